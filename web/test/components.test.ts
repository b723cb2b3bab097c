import assert from "node:assert/strict";
import { before, test } from "node:test";

import { Window } from "happy-dom";

import type { ParticipantsPanel as Participants, OtherEventsPanel as Other, TimelinePanel as Timeline } from "../src/dashboard/components.js";
import { applyEnvelope, emptyModel, type RoomModel } from "../src/dashboard/model.js";
import type { AnyEnvelope } from "../src/generated/topics.js";
import { envelope } from "./helpers.js";

let components: typeof import("../src/dashboard/components.js");

before(async () => {
  // The panels build real DOM nodes through `document`; happy-dom gives node one.
  const window = new Window();
  Object.assign(globalThis, { document: window.document });
  components = await import("../src/dashboard/components.js");
});

let seq = 0;
function apply(model: RoomModel, topic: string, payload: unknown, session: string): void {
  applyEnvelope(model, envelope(topic as never, payload, ++seq, { sessionId: session }) as unknown as AnyEnvelope);
}

function ids(root: Element, selector: string, attr: string): string[] {
  return [...root.querySelectorAll(selector)].map((el) => el.getAttribute(attr) ?? "");
}

test("a bot restart (new session) clears the previous session's people and topics from every panel", () => {
  const model = emptyModel();
  const people: Participants = new components.ParticipantsPanel();
  const timeline: Timeline = new components.TimelinePanel();
  const other: Other = new components.OtherEventsPanel();
  const draw = (): void => {
    people.update(model);
    timeline.update(model);
    other.update(model);
  };
  apply(model, "room.participant.joined", { participantId: "p-alice", displayName: "Alice", mediaTimeMs: 0 }, "s-old");
  apply(model, "room.speaking.started", { participantId: "p-bob", mediaTimeMs: 500 }, "s-old");
  apply(model, "forwarding.delivery.deferred", { flow: "f", reason: "throttled", pendingEntries: 1, mediaTimeMs: 0 }, "s-old");
  draw();
  assert.deepEqual(ids(people.element, "li.person", "data-participant"), ["p-alice", "p-bob"]);
  assert.deepEqual(ids(timeline.element, ".track-row", "data-participant"), ["p-alice", "p-bob"]);
  const oldTopics = ids(other.element, "li", "data-topic");
  assert.ok(oldTopics.length > 0, "a topic without a view of its own is listed");

  apply(model, "room.participant.joined", { participantId: "p-carol", displayName: "Carol", mediaTimeMs: 0 }, "s-new");
  draw();
  assert.deepEqual(ids(people.element, "li.person", "data-participant"), ["p-carol"]);
  assert.deepEqual(ids(timeline.element, ".track-row", "data-participant"), ["p-carol"]);
  for (const topic of oldTopics) assert.ok(!ids(other.element, "li", "data-topic").includes(topic), `${topic} stayed`);
});

test("within one session, a participant who left keeps a row (marked left)", () => {
  const model = emptyModel();
  const people: Participants = new components.ParticipantsPanel();
  apply(model, "room.participant.joined", { participantId: "p-alice", displayName: "Alice", mediaTimeMs: 0 }, "s-1");
  apply(model, "room.participant.left", { participantId: "p-alice", mediaTimeMs: 900 }, "s-1");
  people.update(model);
  const row = people.element.querySelector("li.person");
  assert.equal(row?.getAttribute("data-participant"), "p-alice");
  assert.ok(row?.classList.contains("left"));
});
