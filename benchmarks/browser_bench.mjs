// Browser figures of the dashboard: bundle sizes (gzip), and the time from an envelope's arrival in
// the page to the end of the frame that drew it (p50/p95) in headless Chromium, with 8 participants
// at 50 envelopes/s, against a 10 envelopes/s run in the same process as the baseline.
//
//   node benchmarks/browser_bench.mjs            (after scripts/setup.sh; about a minute)
//   BENCH_SECS=30 node benchmarks/browser_bench.mjs
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { api, launchChromium, REPO, startSupervisor, WEB } from "../web/e2e/harness.mjs";

const SECONDS = Number(process.env.BENCH_SECS ?? 15);
const PYTHON = process.env.PRISM_PYTHON ?? join(REPO, ".venv", "bin", "python");

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(sup, chrome, rate) {
  const body = { roomUrl: "https://bench.daily.co/room", assistantId: "bench", tenantId: "bench", command: [PYTHON, join(REPO, "benchmarks", "load_bot.py")] };
  const created = await api(sup.url, "POST", "/rooms", body);
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const token = (await api(sup.url, "POST", "/view-tokens", { roomId: created.body.id })).body;
  const page = await chrome.context.newPage();
  await page.goto(sup.url + token.viewPath);
  await page.waitForSelector(".room-state.ended", { timeout: (SECONDS + 60) * 1000 });
  const result = await page.evaluate(() => {
    const d = window.prismDashboard;
    return { latencies: d.latencies, renders: d.renders, stats: d.client.runtime.stats(), people: d.model.people.size };
  });
  await page.close();
  const sorted = [...result.latencies].sort((a, b) => a - b);
  return { rate, n: sorted.length, p50: pct(sorted, 50), p95: pct(sorted, 95), max: sorted.at(-1), renders: result.renders, people: result.people, dropped: result.stats.droppedTotal };
}

const sizes = ["client.js", "dashboard.js", "dashboard.css"].map((name) => {
  const bytes = readFileSync(join(WEB, "dist-browser", name));
  return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});
console.log("bundle            raw KB   gzip KB");
for (const s of sizes) console.log(`${s.name.padEnd(16)} ${(s.raw / 1024).toFixed(1).padStart(7)} ${(s.gzip / 1024).toFixed(1).padStart(9)}`);

const chrome = await launchChromium();
try {
  const rows = [];
  for (const rate of [10, 50]) {
    // the supervisor hands bots only the variables it is told to (SUPERVISOR_BOT_ENV), from its own environment
    const sup = await startSupervisor({ env: { SUPERVISOR_ALLOW_COMMAND: "1", SUPERVISOR_BOT_ENV: "LOAD_RATE,LOAD_SECS", LOAD_RATE: String(rate), LOAD_SECS: String(SECONDS) } });
    try {
      rows.push(await run(sup, chrome, rate));
    } finally {
      await sup.stop();
    }
  }
  console.log(`\narrival → DOM (ms), headless Chromium, ${SECONDS}s per run, shared 2-core machine`);
  console.log("env/s  people  envelopes   p50    p95    max   renders  dropped  p95 ratio");
  for (const r of rows) {
    console.log(`${String(r.rate).padStart(5)}  ${String(r.people).padStart(6)}  ${String(r.n).padStart(9)}  ${r.p50.toFixed(1).padStart(5)}  ${r.p95.toFixed(1).padStart(5)}  ${r.max.toFixed(1).padStart(5)}  ${String(r.renders).padStart(7)}  ${String(r.dropped).padStart(7)}  ${(r.p95 / rows[0].p95).toFixed(2).padStart(9)}`);
  }
} finally {
  await chrome.close();
}
