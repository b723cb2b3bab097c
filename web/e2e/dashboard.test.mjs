// End to end: the bundled demo room played by a real supervisor and bot, watched in headless
// Chromium. Asserts what a person sees, against the envelopes of the room's own SSE feed read in
// Node. Leaves a mid-room screenshot in web/test-artifacts/ (git-ignored).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { api, launchChromium, readFeed, startSupervisor, WEB, withTimeout } from "./harness.mjs";

const ARTIFACTS = join(WEB, "test-artifacts");
const SPEED = Number(process.env.PRISM_E2E_SPEED ?? 1.5); // the vote is open ~8 s of media: ~5 s of wall time
const VOTER = "viewer-e2e";
let sup;
let chrome;

before(async () => {
  sup = await startSupervisor();
  chrome = await launchChromium();
});

after(async () => {
  await chrome?.close();
  await sup?.stop();
});

/** Malformed inputs a hostile or broken sender could produce: each must be dropped and counted. */
function malformed(good) {
  const base = JSON.parse(JSON.stringify(good));
  const variants = [
    "{not json",
    "null",
    "[1,2,3]",
    42,
    null,
    { ...base, topic: "room.nonexistent.topic" },
    { ...base, topic: 7 },
    { ...base, specVersion: "sha256:" + "0".repeat(64), payload: { nope: true } },
    { ...base, specVersion: "v1" },
    { ...base, runtime: "browser" }, // a browser may not publish bot topics (spoofed runtime)
    { ...base, runtime: "supervisor" },
    { ...base, runtime: "martian" },
    { ...base, id: "not-a-uuid" },
    { ...base, ts: -5 },
    { ...base, sessionId: "" },
    { ...base, sessionId: "x".repeat(5000) },
    { ...base, payload: "string payload" },
    { ...base, payload: { ...base.payload, participantId: 12 } },
    { ...base, payload: { ...base.payload, participantId: "y".repeat(100_000) } },
    { ...base, payload: { ...base.payload, extra: "field" } },
    { ...base, payload: {} },
    { ...base, meta: { seq: 0 } },
    { ...base, meta: { seq: "1" } },
    { ...base, meta: undefined },
    { ...base, extraTopLevel: 1 },
    "x".repeat(200_000),
    { ...base, meta: { ...base.meta, seq: base.meta.seq } }, // a duplicate of something already seen
  ];
  return variants;
}

test("the demo room on the dashboard: speaking, shares, interruptions, a vote by click, bad input dropped", { timeout: 240_000 }, async () => {
  const created = await api(sup.url, "POST", "/rooms", { scenario: "demo", speed: SPEED, assistantId: "e2e", tenantId: "e2e" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const roomId = created.body.id;
  const feed = readFeed(sup.url, roomId);
  const issued = await api(sup.url, "POST", "/view-tokens", { roomId, participantId: VOTER, ttlSecs: 600 });
  assert.equal(issued.status, 201);

  const page = await chrome.context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(sup.url + issued.body.viewPath, { timeout: 60_000 });
  await page.waitForSelector(".conn.connected", { timeout: 60_000 });

  // ---- the right participant is marked speaking while they speak (checked against the feed)
  await page.waitForSelector('.person.speaking[data-participant="p-alice"]', { timeout: 90_000 });
  let agreed = 0;
  for (let i = 0; i < 40 && agreed < 5; i++) {
    const { dom, truth } = await page.evaluate(async () => {
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const dom = [...document.querySelectorAll(".person.speaking")].map((el) => el.dataset.participant).sort();
      const speaking = new Map();
      for (const e of window.prismDashboard.client.runtime.recent("room.speaking.*")) speaking.set(e.payload.participantId, e.topic === "room.speaking.started");
      const truth = [...speaking].filter(([, on]) => on).map(([id]) => id).sort();
      return { dom, truth };
    });
    if (truth.length > 0) {
      assert.deepEqual(dom, truth, "the rows marked speaking are the participants speaking now");
      agreed += 1;
    }
    await page.waitForTimeout(300);
  }
  assert.ok(agreed >= 3, `saw someone speaking only ${agreed} times`);

  // ---- the vote: click an option; the bot must count it
  const button = page.locator('.vote-options button[data-option="no"]');
  await button.waitFor({ timeout: 90_000 });
  await page.waitForFunction(() => !document.querySelector('.vote-options button[data-option="no"]')?.disabled, null, { timeout: 30_000 });
  await button.click();
  await page.waitForSelector('.vote-options button[data-option="no"][aria-pressed="true"]', { timeout: 10_000 });
  await page.waitForFunction(() => /Your vote: "no"/.test(document.querySelector(".vote-status")?.textContent ?? ""), null, { timeout: 20_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-mid.png") });
  // ---- bad input never breaks the page: 20+ malformed envelopes dropped and counted
  const good = await page.evaluate(() => window.prismDashboard.client.runtime.recent("room.speaking.*").at(-1));
  const bad = malformed(good);
  assert.ok(bad.length >= 20);
  // one synchronous run in the page: no real envelope can arrive between the counts
  const { results, before, afterBad } = await page.evaluate((inputs) => {
    const runtime = window.prismDashboard.client.runtime;
    const before = runtime.stats();
    const results = inputs.map((x) => runtime.receive(x).ok);
    return { results, before, afterBad: runtime.stats() };
  }, bad);
  assert.deepEqual(results, bad.map(() => false), "every malformed input is dropped");
  assert.equal(afterBad.droppedTotal - before.droppedTotal, bad.length);
  assert.equal(afterBad.dispatched - before.dispatched, 1, "only the local version-mismatch notice is dispatched");
  await page.waitForFunction((n) => Number(document.querySelector(".counts")?.dataset.dropped) >= n, afterBad.droppedTotal, { timeout: 10_000 });

  const dispatchedAtVote = (await page.evaluate(() => window.prismDashboard.client.runtime.stats())).dispatched;

  // ---- the room ends; compare the page with the feed
  assert.equal(await withTimeout(feed.done, 150_000, "the room's feed"), "end");
  await page.waitForSelector(".room-state.ended", { timeout: 30_000 });
  const stats = await page.evaluate(() => window.prismDashboard.client.runtime.stats());
  assert.ok(stats.dispatched > dispatchedAtVote, "the page kept updating after the bad input");
  assert.equal(stats.gaps, 0, "no envelope of the feed was missed");
  assert.deepEqual(consoleErrors, []);

  await page.screenshot({ path: join(ARTIFACTS, "dashboard-end.png") });
  const closed = feed.envelopes.filter((e) => e.topic === "room.vote.closed");
  assert.equal(closed.length, 1);
  assert.equal(closed[0].payload.tally.no, 1, `the click was counted: ${JSON.stringify(closed[0].payload)}`);
  assert.equal(closed[0].payload.totalVotes, 4);
  const result = await page.locator('.vote-result li[data-option="no"] .count').textContent();
  assert.equal(result, "1");

  const final = feed.envelopes.filter((e) => e.topic === "room.dominance.score").at(-1);
  assert.equal(final.payload.trigger, "final");
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  for (const share of final.payload.participants) {
    const row = page.locator(`.person[data-participant="${share.participantId}"]`);
    assert.equal(await row.locator(".pct").textContent(), `${Math.round(share.share * 100)}%`);
    const now = Number(await row.locator(".bar").getAttribute("aria-valuenow"));
    assert.ok(Math.abs(now - share.share * 100) <= 0.5 + 1e-9, `${share.participantId}: bar ${now} vs share ${share.share}`);
    assert.equal(await row.evaluate((el) => el.classList.contains("dominant")), final.payload.dominantParticipantId === share.participantId);
  }

  const interruptions = feed.envelopes.filter((e) => e.topic === "room.overlap.detected" && e.payload.kind === "interruption");
  assert.ok(interruptions.length >= 1, "the demo has an interruption");
  for (const i of interruptions) {
    const mark = page.locator(`.track-row[data-participant="${i.payload.overlapperId}"] .mark.interruption`);
    assert.ok((await mark.count()) >= 1, `interruption by ${i.payload.overlapperId} on the timeline`);
    assert.match((await mark.first().getAttribute("aria-label")) ?? "", /interrupted/);
  }
  await page.close();
});

test("a view token for one room cannot read another, and a watch-only token cannot vote", { timeout: 120_000 }, async () => {
  const a = await api(sup.url, "POST", "/rooms", { scenario: "balanced", speed: 0, assistantId: "e2e", tenantId: "e2e" });
  const b = await api(sup.url, "POST", "/rooms", { scenario: "balanced", speed: 0, assistantId: "e2e", tenantId: "e2e" });
  const watch = await api(sup.url, "POST", "/view-tokens", { roomId: a.body.id });
  const other = await fetch(`${sup.url}/rooms/${b.body.id}/events?token=${watch.body.token}`);
  assert.equal(other.status, 404, "another room's feed is not there for this token");
  const forged = await fetch(`${sup.url}/rooms/${a.body.id}/events?token=${watch.body.token.slice(0, -2)}xx`);
  assert.equal(forged.status, 401);
  const vote = await fetch(`${sup.url}/rooms/${a.body.id}/messages?token=${watch.body.token}`, { method: "POST", body: "{}" });
  assert.equal(vote.status, 403);
  const page = await chrome.context.newPage();
  await page.goto(`${sup.url}/rooms/${a.body.id}/view#token=${watch.body.token}`);
  await page.waitForSelector(".room-state.ended", { timeout: 90_000 });
  assert.match((await page.locator(".vote-status").textContent()) ?? "", /^$|watch only/);
  await page.close();
  // the room list, with a token for every room
  const all = await api(sup.url, "POST", "/view-tokens", { roomId: "*" });
  const list = await chrome.context.newPage();
  await list.goto(sup.url + all.body.viewPath);
  await list.waitForSelector(`.room-list a[href^="/rooms/${a.body.id}/view#token="]`, { timeout: 30_000 });
  assert.match((await list.locator(".room-list").textContent()) ?? "", /balanced \(simulated\)/);
  await list.close();
});
