import assert from "node:assert/strict";
import { test } from "node:test";

import { checkInbound, createEnvelope, uuid7Ms, type BrowserTopicId } from "../src/envelope.js";
import { isTopicId, mayPublish, registry, TOPIC_IDS, topicInfo, type PublishableTopicId } from "../src/generated/registry.js";
import {
  SPEC_VERSION,
  Topic,
  type AnyEnvelope,
  type DominanceShare,
  type Envelope,
  type RoomDominanceScorePayload,
  type RoomVoteCastPayload,
  type RoomVoteClosedPayload,
  type TopicId,
} from "../src/generated/topics.js";

// ---- type-level checks: these lines must compile (and the @ts-expect-error lines must not).

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const browserTopics: Equals<BrowserTopicId, "room.vote.cast"> = true;
const supervisorTopics: Equals<PublishableTopicId<"supervisor">, "events.runtime.version.mismatch" | "forwarding.delivery.deferred"> = true;
const voteCastId: Equals<typeof Topic.ROOM_VOTE_CAST, "room.vote.cast"> = true;
const nullable: Equals<RoomDominanceScorePayload["dominantParticipantId"], string | null> = true;
const enumUnion: Equals<RoomDominanceScorePayload["trigger"], "change" | "periodic" | "final"> = true;
const map: Equals<RoomVoteClosedPayload["tally"], Record<string, number>> = true;
const nestedArray: Equals<RoomDominanceScorePayload["participants"], DominanceShare[]> = true;
const optionalNullable: Equals<RoomVoteClosedPayload["winner"], string | null | undefined> = true;

const vote: RoomVoteCastPayload = { voteId: "v-1", option: "yes" };
// @ts-expect-error option is required
const voteMissingOption: RoomVoteCastPayload = { voteId: "v-1" };
// @ts-expect-error payloads are closed: no unknown fields
const voteExtraField: RoomVoteCastPayload = { voteId: "v-1", option: "yes", voter: "p-1" };
// @ts-expect-error not one of the enum values
const badTrigger: RoomDominanceScorePayload["trigger"] = "sometimes";
// @ts-expect-error a bot topic cannot be published by a browser
const botTopicFromBrowser: BrowserTopicId = Topic.ROOM_DOMINANCE_SCORE;
// @ts-expect-error not a topic
const notATopic: TopicId = "room.vote.casting";

void [browserTopics, supervisorTopics, voteCastId, nullable, enumUnion, map, nestedArray, optionalNullable];
void [voteMissingOption, voteExtraField, badTrigger, botTopicFromBrowser, notATopic];

/** `AnyEnvelope` narrows on `topic`: each branch sees its own payload type. */
function summarize(envelope: AnyEnvelope): string {
  switch (envelope.topic) {
    case Topic.ROOM_DOMINANCE_SCORE:
      return `dominance ${envelope.payload.trigger} ${envelope.payload.participants.length}`;
    case Topic.ROOM_VOTE_CLOSED:
      return `vote ${envelope.payload.voteId}: ${envelope.payload.totalVotes}`;
    case Topic.ROOM_VOTE_CAST:
      return `cast ${envelope.payload.option}`;
    default:
      return envelope.topic;
  }
}

// ---- run-time checks of the generated code

const CLOCK = 1_700_000_000_123;

function botEnvelope(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const payload: RoomDominanceScorePayload = {
    windowMs: 60_000,
    participants: [{ participantId: "p-1", talkTimeMs: 30_000, share: 1 }],
    gini: 0,
    dominantParticipantId: null,
    trigger: "change",
    mediaTimeMs: 61_000,
  };
  const base = createEnvelope(Topic.ROOM_VOTE_CAST, vote, { sessionId: "s-1", seq: 1, now: () => CLOCK });
  return { ...base, topic: Topic.ROOM_DOMINANCE_SCORE, runtime: "bot", payload, meta: { seq: 7, mediaTimeMs: 61_000 }, ...overrides };
}

test("Topic maps constant names to topic ids", () => {
  assert.equal(Topic.ROOM_VOTE_CAST, "room.vote.cast");
  assert.equal(Topic.ROOM_DOMINANCE_SCORE, "room.dominance.score");
  assert.deepEqual([...TOPIC_IDS], Object.values(Topic).sort());
  assert.deepEqual(Object.keys(registry.topics), [...TOPIC_IDS]);
});

test("mayPublish follows each topic's origin", () => {
  assert.equal(mayPublish("room.vote.cast", "browser"), true);
  assert.equal(mayPublish("room.vote.cast", "bot"), false);
  assert.equal(mayPublish("room.dominance.score", "browser"), false);
  assert.equal(mayPublish("room.dominance.score", "bot"), true);
  assert.equal(mayPublish("no.such.topic", "bot"), false);
  assert.equal(mayPublish("__proto__", "bot"), false);
});

test("topicInfo and isTopicId expose the registry", () => {
  const info = topicInfo(Topic.ROOM_VOTE_CAST);
  assert.equal(info.id, "room.vote.cast");
  assert.deepEqual(info.origin, ["browser"]);
  assert.equal(info.schema.additionalProperties, false);
  assert.deepEqual(topicInfo(Topic.ROOM_DOMINANCE_SCORE).forwarding.destinations, ["stdout", "app_message", "eventbridge"]);
  assert.equal(isTopicId("room.vote.cast"), true);
  assert.equal(isTopicId("toString"), false);
  assert.equal(isTopicId(42), false);
});

test("createEnvelope: UUIDv7 id whose timestamp equals ts, browser runtime, this spec version", () => {
  const envelope = createEnvelope(Topic.ROOM_VOTE_CAST, vote, { sessionId: "s-1", seq: 3, roomId: "room-a", now: () => CLOCK });
  assert.match(envelope.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(envelope.ts, CLOCK);
  assert.equal(uuid7Ms(envelope.id), envelope.ts);
  assert.equal(envelope.runtime, "browser");
  assert.equal(envelope.specVersion, SPEC_VERSION);
  assert.equal(envelope.roomId, "room-a");
  assert.equal("tenantId" in envelope, false);
  assert.deepEqual(envelope.meta, { seq: 3 });
  assert.deepEqual(envelope.payload, vote);
  const typed: Envelope<"room.vote.cast"> = envelope;
  assert.equal(summarize(typed), "cast yes");
});

test("createEnvelope with the real clock keeps ts and the id's timestamp equal", () => {
  for (let i = 0; i < 50; i++) {
    const before = Date.now();
    const envelope = createEnvelope(Topic.ROOM_VOTE_CAST, vote, { sessionId: "s-1", seq: i + 1 });
    assert.equal(uuid7Ms(envelope.id), envelope.ts);
    assert.ok(envelope.ts >= before && envelope.ts <= Date.now());
  }
});

test("createEnvelope refuses topics a browser may not publish and bad counters", () => {
  const unsafe = createEnvelope as (topic: string, payload: unknown, options: { sessionId: string; seq: number }) => unknown;
  assert.throws(() => unsafe("room.dominance.score", {}, { sessionId: "s-1", seq: 1 }), TypeError);
  assert.throws(() => createEnvelope(Topic.ROOM_VOTE_CAST, vote, { sessionId: "s-1", seq: 0 }), TypeError);
  assert.throws(() => createEnvelope(Topic.ROOM_VOTE_CAST, vote, { sessionId: "", seq: 1 }), TypeError);
});

test("checkInbound accepts a bot envelope and round-trips a browser one", () => {
  const fromBot = checkInbound(botEnvelope());
  assert.equal(fromBot.ok, true);
  if (fromBot.ok) {
    assert.equal(summarize(fromBot.envelope), "dominance change 1");
  }
  const text = JSON.stringify(botEnvelope());
  assert.equal(checkInbound(text).ok, true);
  const own = createEnvelope(Topic.ROOM_VOTE_CAST, vote, { sessionId: "s-1", seq: 1 });
  assert.equal(checkInbound(JSON.parse(JSON.stringify(own))).ok, true);
});

test("checkInbound rejects an unknown topic", () => {
  const result = checkInbound(botEnvelope({ topic: "room.dominance.scores" }));
  assert.deepEqual(result, { ok: false, reason: "unknown_topic", detail: "no such topic in the spec", topic: "room.dominance.scores" });
});

test("checkInbound rejects another spec version", () => {
  const result = checkInbound(botEnvelope({ specVersion: "sha256:" + "0".repeat(64) }));
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.reason, "spec_version");
  const malformed = checkInbound(botEnvelope({ specVersion: "v1" }));
  assert.equal(!malformed.ok && malformed.reason, "schema");
});

test("checkInbound rejects non-objects and non-JSON, and never throws", () => {
  for (const raw of [null, undefined, 42, true, [], [botEnvelope()], "[]", "null"]) {
    const result = checkInbound(raw);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "schema", `for ${JSON.stringify(raw)}`);
  }
  const notJson = checkInbound("{not json");
  assert.equal(!notJson.ok && notJson.reason, "not_json");
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error("boom");
      },
    },
  );
  assert.equal(checkInbound(hostile).ok, false);
});

test("checkInbound rejects spoofed origins and malformed envelope fields", () => {
  const spoofed = checkInbound(botEnvelope({ runtime: "browser" }));
  assert.equal(!spoofed.ok && spoofed.reason, "origin");
  const cases: Array<[string, Record<string, unknown>]> = [
    ["ts not the id's timestamp", { ts: CLOCK + 1 }],
    ["id not a UUIDv7", { id: "00000000-0000-4000-8000-000000000000" }],
    ["unknown envelope field", { extra: 1 }],
    ["payload not an object", { payload: [] }],
    ["meta.seq below 1", { meta: { seq: 0 } }],
    ["meta unknown field", { meta: { seq: 1, foo: 1 } }],
    ["sessionId empty", { sessionId: "" }],
    ["runtime unknown", { runtime: "server" }],
    ["pii level out of range", { pii: { level: 4, redacted: [] } }],
    ["roomId null", { roomId: null }],
  ];
  for (const [name, overrides] of cases) {
    const result = checkInbound(botEnvelope(overrides));
    assert.equal(!result.ok && result.reason, "schema", name);
  }
});
