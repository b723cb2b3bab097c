import assert from "node:assert/strict";
import { test } from "node:test";

import { applyEnvelope, emptyModel, MAX_SEGMENTS } from "../src/dashboard/model.js";
import type { AnyEnvelope } from "../src/generated/topics.js";
import { envelope } from "./helpers.js";

let seq = 0;
function apply(model: ReturnType<typeof emptyModel>, topic: string, payload: unknown, session = "s-1"): void {
  applyEnvelope(model, envelope(topic as never, payload, ++seq, { sessionId: session }) as unknown as AnyEnvelope);
}

test("the model: speaking now, shares and the dominant speaker, marks on the overlapper's row", () => {
  const m = emptyModel();
  apply(m, "room.participant.joined", { participantId: "p-alice", displayName: "Alice", mediaTimeMs: 0 });
  apply(m, "room.speaking.started", { participantId: "p-alice", mediaTimeMs: 500 });
  apply(m, "room.speaking.started", { participantId: "p-bob", mediaTimeMs: 900 });
  assert.deepEqual([...m.people.values()].filter((p) => p.speaking).map((p) => p.id), ["p-alice", "p-bob"]);
  apply(m, "room.speaking.stopped", { participantId: "p-alice", mediaTimeMs: 2500, durationMs: 2000 });
  assert.deepEqual(m.people.get("p-alice")?.segments, [{ startMs: 500, endMs: 2500 }]);
  assert.equal(m.people.get("p-alice")?.speaking, false);
  apply(m, "room.overlap.detected", { speakerId: "p-alice", overlapperId: "p-bob", overlapMs: 400, kind: "interruption", mediaTimeMs: 1200 });
  assert.deepEqual(m.people.get("p-bob")?.marks, [{ atMs: 1200, kind: "interruption", otherId: "p-alice" }]);
  apply(m, "room.dominance.score", {
    windowMs: 3000,
    participants: [
      { participantId: "p-alice", talkTimeMs: 2000, share: 0.8 },
      { participantId: "p-bob", talkTimeMs: 500, share: 0.2 },
    ],
    gini: 0.3,
    dominantParticipantId: "p-alice",
    trigger: "final",
    mediaTimeMs: 3000,
  });
  assert.equal(m.dominantId, "p-alice");
  assert.equal(m.people.get("p-bob")?.share, 0.2);
  assert.ok(m.sharesFinal);
  assert.equal(m.people.get("p-alice")?.name, "Alice");
  assert.equal(m.people.get("p-bob")?.name, "Bob", "a participant without a display name gets a readable one");
  assert.equal(m.nowMs, 3000);
});

test("the model: policy violations carry rule and action only; unknown topics are listed; bounded timelines", () => {
  const m = emptyModel();
  apply(m, "conversation.policy.violation", { policyVersion: `sha256:${"a".repeat(64)}`, rule: "no-slurs", kind: "content", action: "redact", severity: "high", participantId: "p-x" });
  assert.match(m.feed[0]?.text ?? "", /^Policy: no-slurs \(content, high\) → redact/);
  apply(m, "events.inbound.rejected", { reason: "schema", senderId: "p-x" });
  apply(m, "events.inbound.rejected", { reason: "schema", senderId: "p-x" });
  assert.equal(m.other.get("events.inbound.rejected"), 2);
  for (let i = 0; i < MAX_SEGMENTS + 50; i++) {
    apply(m, "room.speaking.started", { participantId: "p-a", mediaTimeMs: i * 10 });
    apply(m, "room.speaking.stopped", { participantId: "p-a", mediaTimeMs: i * 10 + 5, durationMs: 5 });
  }
  assert.equal(m.people.get("p-a")?.segments.length, MAX_SEGMENTS);
});

test("the model: a vote opens, closes with its tally; a new bot session starts a clean room", () => {
  const m = emptyModel();
  apply(m, "room.vote.started", { voteId: "vote-1", question: "Ship?", options: ["yes", "no"], closesAtMs: 60000 });
  const vote = (): typeof m.vote => m.vote; // read afresh: the model changes under TypeScript's narrowing
  assert.equal(vote()?.closed, null);
  apply(m, "room.vote.closed", { voteId: "vote-1", tally: { yes: 2, no: 1 }, totalVotes: 3, winner: "yes" });
  assert.deepEqual(vote()?.closed?.tally, { yes: 2, no: 1 });
  assert.match(m.feed[0]?.text ?? "", /"yes" wins \(3 votes\)/);
  apply(m, "room.speaking.started", { participantId: "p-a", mediaTimeMs: 1 }, "s-2");
  assert.equal(vote(), null);
  assert.deepEqual([...m.people.keys()], ["p-a"]);
});

test("the model: 'facilitator is speaking' follows facilitator.speech.*; unknown topics are listed", () => {
  const m = emptyModel();
  apply(m, "facilitator.speech.started", { utteranceId: "u-1", kind: "nudge", textLength: 40, targetParticipantId: "p-dan", mediaTimeMs: 1000 });
  assert.equal(m.botSpeaking, true);
  assert.deepEqual(m.botSpeech, { kind: "nudge", targetId: "p-dan" });
  apply(m, "facilitator.speech.stopped", { utteranceId: "u-1", kind: "nudge", textLength: 40, mediaTimeMs: 2000, reason: "barge_in", durationMs: 1000, botTalkMs: 1000, botShare: 0.1 });
  assert.equal(m.botSpeaking, false);
  assert.match(m.feed[0]?.text ?? "", /someone started talking/);
  assert.equal(m.other.size, 0);
  applyEnvelope(m, { ...(envelope("room.speaking.started", { participantId: "p-a", mediaTimeMs: 1 }, ++seq) as object), topic: "room.brand.new.topic" } as unknown as AnyEnvelope);
  assert.equal(m.other.get("room.brand.new.topic"), 1);
});
