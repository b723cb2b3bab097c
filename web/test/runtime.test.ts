import assert from "node:assert/strict";
import { test } from "node:test";

import { EventRuntime } from "../src/client/runtime.js";
import { compilePattern } from "../src/client/patterns.js";
import { SPEC_VERSION, type AnyEnvelope } from "../src/generated/topics.js";
import { ALL_TOPICS, badPayloads, envelope, goodValue, speaking } from "./helpers.js";
import { registry } from "../src/generated/registry.js";

test("patterns: exact, prefix.* and *; anything else is refused", () => {
  assert.ok(compilePattern("room.vote.closed")("room.vote.closed"));
  assert.ok(!compilePattern("room.vote.closed")("room.vote.closed.x"));
  assert.ok(compilePattern("room.vote.*")("room.vote.started"));
  assert.ok(!compilePattern("room.vote.*")("room.voter.started"));
  assert.ok(!compilePattern("room.vote.*")("room.vote"));
  assert.ok(compilePattern("*")("anything"));
  for (const bad of ["", "room.*.closed", "room*", "*.vote", ".*"]) assert.throws(() => compilePattern(bad), TypeError, bad);
});

test("subscribe dispatches by pattern, and unsubscribe stops it", () => {
  const rt = new EventRuntime();
  const seen: Record<string, string[]> = { exact: [], prefix: [], all: [] };
  const off = rt.subscribe("room.speaking.started", (e) => seen.exact?.push(e.payload.participantId));
  rt.subscribe("room.speaking.*", (e) => seen.prefix?.push(e.topic));
  rt.subscribe("*", (e) => seen.all?.push(e.topic));
  assert.ok(rt.receive(speaking("p-a", 1)).ok);
  assert.ok(rt.receive(envelope("room.speaking.stopped", { participantId: "p-a", mediaTimeMs: 2000, durationMs: 1000 }, 2)).ok);
  off();
  assert.ok(rt.receive(speaking("p-b", 3)).ok);
  assert.deepEqual(seen.exact, ["p-a"]);
  assert.deepEqual(seen.prefix, ["room.speaking.started", "room.speaking.stopped", "room.speaking.started"]);
  assert.equal(seen.all?.length, 3);
});

test("a handler that throws does not stop the others, and is counted", () => {
  const errors: string[] = [];
  const rt = new EventRuntime({ onHandlerError: (_e, topic) => errors.push(topic) });
  const got: string[] = [];
  rt.subscribe("*", () => {
    throw new Error("boom");
  });
  rt.subscribe("*", (e) => got.push(e.topic));
  assert.ok(rt.receive(speaking("p-a", 1)).ok);
  assert.deepEqual(got, ["room.speaking.started"]);
  assert.deepEqual(errors, ["room.speaking.started"]);
  assert.equal(rt.stats().handlerErrors, 1);
});

test("a late subscriber replays the current state from the bounded per-family buffer", () => {
  const rt = new EventRuntime({ replayPerFamily: 3 });
  for (let i = 1; i <= 5; i++) rt.receive(speaking(`p-${i}`, i));
  rt.receive(envelope("room.vote.started", { voteId: "vote-1", question: "Q?", options: ["a", "b"], closesAtMs: 9000 }, 6));
  const replayed: string[] = [];
  rt.subscribe("*", (e) => replayed.push(e.topic === "room.speaking.started" ? e.payload.participantId : e.topic), { replay: true });
  assert.deepEqual(replayed, ["p-3", "p-4", "p-5", "room.vote.started"], "oldest first, 3 per family");
  assert.equal(rt.latest("room.vote.started")?.payload.voteId, "vote-1");
  assert.equal(rt.latest("room.dominance.score"), undefined);
  const noReplay: string[] = [];
  rt.subscribe("*", (e) => noReplay.push(e.topic));
  assert.deepEqual(noReplay, []);
});

test("every topic: a payload made from its schema passes; bad ones are dropped with reason payload", () => {
  assert.equal(ALL_TOPICS.length, Object.keys(registry.topics).length);
  let seq = 0;
  for (const topic of ALL_TOPICS) {
    const rt = new EventRuntime();
    const schema = registry.topics[topic].schema as Record<string, unknown>;
    const good = rt.receive(envelope(topic, goodValue(schema), ++seq));
    assert.ok(good.ok, `${topic}: ${good.ok ? "" : good.drop.detail}`);
    for (const [what, payload] of badPayloads(topic)) {
      const result = rt.receive(envelope(topic, payload, ++seq));
      assert.ok(!result.ok, `${topic} with ${what} was accepted`);
      assert.equal(result.ok ? "" : result.drop.reason, "payload", `${topic} with ${what}`);
    }
    assert.equal(rt.stats().dispatched, 1);
  }
});

test("bad envelopes are dropped and counted with a reason, never thrown", () => {
  const rt = new EventRuntime();
  const good = speaking("p-a", 1);
  const cases: [unknown, string][] = [
    ["{nope", "not_json"],
    [42, "schema"],
    [{ ...good, topic: "room.nothing.here" }, "unknown_topic"],
    [{ ...good, runtime: "browser" }, "origin"],
    [{ ...good, specVersion: "v2" }, "schema"],
    [{ ...good, payload: { participantId: 5, mediaTimeMs: 1 } }, "payload"],
    ["x".repeat(100_000), "too_large"],
    [
      new Proxy({}, {
        get() {
          throw new Error("hostile");
        },
        ownKeys() {
          throw new Error("hostile");
        },
      }),
      "schema",
    ],
  ];
  for (const [raw, reason] of cases) {
    const result = rt.receive(raw);
    assert.ok(!result.ok);
    assert.equal(result.drop.reason, reason, JSON.stringify(result.drop));
  }
  const stats = rt.stats();
  assert.equal(stats.droppedTotal, cases.length);
  assert.equal(stats.dispatched, 0);
  assert.equal(stats.lastDropped?.reason, "schema");
  assert.ok(rt.receive(JSON.stringify(good)).ok, "JSON text is accepted too");
});

test("meta.seq: gaps counted, duplicates dropped and never dispatched twice, late ones fill the gap", () => {
  const rt = new EventRuntime();
  let dispatched = 0;
  rt.subscribe("*", () => dispatched++);
  const e1 = speaking("p-a", 1);
  assert.ok(rt.receive(e1).ok);
  assert.ok(!rt.receive(e1).ok, "the same envelope again");
  assert.ok(rt.receive(speaking("p-a", 4)).ok);
  assert.equal(rt.stats().gaps, 2);
  assert.ok(rt.receive(speaking("p-a", 3)).ok, "a late one is dispatched");
  assert.equal(rt.stats().gaps, 1);
  assert.ok(!rt.receive(speaking("p-a", 3)).ok);
  assert.ok(rt.receive(speaking("p-a", 1, 1000, "session-2")).ok, "seq restarts per session");
  const stats = rt.stats();
  assert.equal(stats.duplicates, 2);
  assert.equal(stats.dropped.duplicate, 2);
  assert.equal(dispatched, 4);
});

test("spec mismatch, continue: one typed local notice, then what still validates goes on", () => {
  const remote = `sha256:${"b".repeat(64)}`;
  const rt = new EventRuntime();
  const notices: AnyEnvelope[] = [];
  rt.subscribe("events.runtime.version.mismatch", (e) => notices.push(e));
  assert.ok(rt.receive(envelope("room.speaking.started", { participantId: "p-a", mediaTimeMs: 1 }, 1, { specVersion: remote })).ok);
  const renamed = rt.receive(envelope("room.speaking.started", { speaker: "p-a", mediaTimeMs: 1 }, 2, { specVersion: remote }));
  assert.equal(renamed.ok ? "" : renamed.drop.reason, "payload");
  assert.ok(rt.receive(envelope("room.speaking.started", { participantId: "p-b", mediaTimeMs: 2 }, 3, { specVersion: remote })).ok);
  assert.equal(notices.length, 1);
  const notice = notices[0];
  assert.ok(notice !== undefined && notice.topic === "events.runtime.version.mismatch");
  assert.deepEqual(notice.payload, { runtime: "browser", localSpecVersion: SPEC_VERSION, remoteSpecVersion: remote, source: "inbound" });
  assert.equal(notice.runtime, "browser");
});

test("spec mismatch, refuse: every envelope of the other version is dropped (after the notice)", () => {
  const remote = `sha256:${"c".repeat(64)}`;
  const rt = new EventRuntime({ onSpecMismatch: "refuse" });
  const topics: string[] = [];
  rt.subscribe("*", (e) => topics.push(e.topic));
  const result = rt.receive(envelope("room.speaking.started", { participantId: "p-a", mediaTimeMs: 1 }, 1, { specVersion: remote }));
  assert.equal(result.ok ? "" : result.drop.reason, "spec_version");
  assert.deepEqual(topics, ["events.runtime.version.mismatch"]);
});

test("the runtime compiles no code: validators are ahead of time (a page needs no 'unsafe-eval')", () => {
  const original = globalThis.Function;
  const calls: string[] = [];
  // Ajv compiles through the Function constructor; a proxy notes any use while the runtime works.
  globalThis.Function = new Proxy(original, {
    construct(target, args) {
      calls.push(String(args[args.length - 1]).slice(0, 40));
      return Reflect.construct(target, args);
    },
    apply(target, self, args) {
      calls.push(String(args[args.length - 1]).slice(0, 40));
      return Reflect.apply(target, self, args);
    },
  });
  try {
    const rt = new EventRuntime();
    for (let i = 1; i <= 5; i++) assert.ok(rt.receive(speaking("p-a", i)).ok);
    assert.equal(rt.receive(envelope("room.speaking.started", { participantId: 7, mediaTimeMs: 1 } as never, 6)).ok, false);
  } finally {
    globalThis.Function = original;
  }
  assert.deepEqual(calls, []);
});
