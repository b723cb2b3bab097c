// Shared by the e2e test and the browser benchmark: a supervisor on 127.0.0.1 (a child process,
// killed at the end), a reader of its SSE feed in Node (the truth the page is compared with), and
// headless Debian Chromium through playwright-core (no browser download).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const WEB = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO = dirname(WEB);
export const TOKEN = "e2e-token-0123456789abcdef";
export const CHROMIUM = process.env.PRISM_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Start `python -m supervisor` on a free port; resolves with {url, stop, stderr()}. */
export async function startSupervisor({ env = {}, timeoutMs = 60_000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "prism-e2e-"));
  const python = process.env.PRISM_PYTHON ?? join(REPO, ".venv", "bin", "python");
  const child = spawn(python, ["-m", "supervisor", "--port", "0", "--dry-run-path", join(dir, "dryrun.jsonl")], {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: REPO, SUPERVISOR_TOKEN: TOKEN, SUPERVISOR_LOG_LEVEL: "INFO", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`supervisor did not start in ${timeoutMs} ms:\n${log}`)), timeoutMs);
    child.stderr.on("data", (chunk) => {
      log += chunk.toString();
      const m = /supervisor listening on (http:\/\/[^\s]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`supervisor exited with ${code}:\n${log}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await new Promise((r) => child.once("exit", r));
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, stop, stderr: () => log, child };
}

export async function api(base, method, path, body, token = TOKEN) {
  const response = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** Read a room's SSE feed with the bearer token; collects envelopes until `end` (or abort). */
export function readFeed(base, roomId, { lastEventId, onEnvelope } = {}) {
  const controller = new AbortController();
  const envelopes = [];
  const events = [];
  const done = (async () => {
    const headers = { Authorization: `Bearer ${TOKEN}` };
    if (lastEventId !== undefined) headers["Last-Event-ID"] = String(lastEventId);
    const response = await fetch(`${base}/rooms/${roomId}/events`, { headers, signal: controller.signal });
    if (response.status !== 200) throw new Error(`feed: HTTP ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          let event = "message";
          let data = "";
          let id;
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
            else if (line.startsWith("id:")) id = line.slice(3).trim();
          }
          if (block.startsWith(":")) continue; // ping comment
          events.push({ event, id });
          if (event === "message") {
            const envelope = JSON.parse(data);
            envelopes.push(envelope);
            onEnvelope?.(envelope);
          }
          if (event === "end" || event === "dropped") return event;
        }
      }
    } catch (error) {
      if (error.name === "AbortError") return "aborted";
      throw error;
    }
    return "closed";
  })();
  return { envelopes, events, done, abort: () => controller.abort() };
}

/** Headless Debian Chromium with a fresh profile; resolves with {browser, close}. */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup-system.sh (Debian's chromium package) or set PRISM_CHROMIUM`);
  }
  const profile = mkdtempSync(join(tmpdir(), "prism-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms);
    }),
  ]);
}
