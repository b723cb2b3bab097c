import assert from "node:assert/strict";
import { test } from "node:test";

import { DailyEventsClient, type DailyCallLike } from "../src/client/daily.js";
import { SseEventsClient } from "../src/client/sse.js";
import { APP_MESSAGE_MAX_BYTES, SendError, type ConnectionState } from "../src/client/transport.js";
import { checkInbound } from "../src/envelope.js";
import { speaking } from "./helpers.js";

/** A daily-js call object with the same event shape (app-message: {data, fromId}). */
class FakeCall implements DailyCallLike {
  handlers = new Map<string, Set<(e?: any) => void>>();
  sent: { data: unknown; to: string | undefined }[] = [];
  state = "joined-meeting";
  people: Record<string, { session_id: string; user_name?: string; user_id?: string; local?: boolean }> = {
    local: { session_id: "me", user_name: "Me", local: true },
    "bot-1": { session_id: "bot-1", user_name: "Prism Facilitator", user_id: "prism-bot" },
    "p-eve": { session_id: "p-eve", user_name: "Eve" },
  };
  on(event: string, handler: (e?: any) => void): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)?.add(handler);
  }
  off(event: string, handler: (e?: any) => void): void {
    this.handlers.get(event)?.delete(handler);
  }
  emit(event: string, e?: unknown): void {
    for (const h of this.handlers.get(event) ?? []) h(e);
  }
  participants() {
    return this.people;
  }
  sendAppMessage(data: unknown, to?: string): void {
    this.sent.push({ data, to });
  }
  meetingState(): string {
    return this.state;
  }
}

test("Daily: only the bot's app messages reach the runtime; others are dropped as sender", async () => {
  const call = new FakeCall();
  const client = new DailyEventsClient(call);
  await client.start();
  assert.equal(client.state, "connected");
  const got: string[] = [];
  client.runtime.subscribe("room.speaking.started", (e) => got.push(e.payload.participantId));
  call.emit("app-message", { data: speaking("p-a", 1), fromId: "bot-1" });
  call.emit("app-message", { data: speaking("p-spoof", 2), fromId: "p-eve" });
  call.emit("app-message", { data: speaking("p-none", 3) });
  assert.deepEqual(got, ["p-a"]);
  assert.equal(client.runtime.stats().dropped.sender, 2);
  // a second participant taking the bot's name later is not the bot: the first one is pinned
  call.people["p-mallory"] = { session_id: "p-mallory", user_name: "Prism Facilitator" };
  call.emit("app-message", { data: speaking("p-x", 4), fromId: "p-mallory" });
  assert.deepEqual(got, ["p-a"]);
  await client.stop();
  assert.equal(call.handlers.get("app-message")?.size, 0, "stop removes the listeners");
});

test("Daily: the bot by user id (from its meeting token) wins over a name", async () => {
  const call = new FakeCall();
  call.people["p-eve"] = { session_id: "p-eve", user_name: "Prism Facilitator" };
  const client = new DailyEventsClient(call, { bot: { userId: "prism-bot" } });
  await client.start();
  call.emit("app-message", { data: speaking("p-a", 1), fromId: "p-eve" });
  call.emit("app-message", { data: speaking("p-b", 2), fromId: "bot-1" });
  assert.equal(client.runtime.stats().dispatched, 1);
});

test("Daily: a vote is a valid browser envelope to the bot, numbered from 1 per session; size-checked", async () => {
  const call = new FakeCall();
  const client = new DailyEventsClient(call, { bot: { participantId: "bot-1" } });
  await client.start();
  await assert.rejects(client.vote("vote-1", "yes"), (e: unknown) => e instanceof SendError && e.reason === "no_session");
  call.emit("app-message", { data: speaking("p-a", 1, 1000, "sess-A"), fromId: "bot-1" });
  await client.vote("vote-1", "yes");
  await client.vote("vote-1", "no");
  assert.equal(call.sent.length, 2);
  assert.equal(call.sent[0]?.to, "bot-1");
  const first = checkInbound(call.sent[0]?.data);
  assert.ok(first.ok && first.envelope.topic === "room.vote.cast" && first.envelope.runtime === "browser");
  assert.deepEqual((call.sent as { data: any }[]).map((s) => [s.data.sessionId, s.data.meta.seq]), [["sess-A", 1], ["sess-A", 2]]);
  await assert.rejects(client.vote("vote-1", "z".repeat(APP_MESSAGE_MAX_BYTES)), (e: unknown) => e instanceof SendError && e.reason === "too_large");
  assert.equal(call.sent.length, 2, "an oversized envelope is not sent");
  await client.vote("vote-1", "later");
  assert.equal((call.sent[2]?.data as any).meta.seq, 3, "a refused send does not use a number");
  call.emit("app-message", { data: speaking("p-a", 1, 1000, "sess-B"), fromId: "bot-1" });
  await client.vote("vote-1", "yes");
  assert.deepEqual([(call.sent[3]?.data as any).sessionId, (call.sent[3]?.data as any).meta.seq], ["sess-B", 1]);
});

test("Daily: connection state follows the call", async () => {
  const call = new FakeCall();
  call.state = "new";
  const client = new DailyEventsClient(call, { bot: { participantId: "bot-1" } });
  const states: ConnectionState[] = [];
  client.onState((s) => states.push(s));
  await client.start();
  call.emit("joined-meeting");
  call.emit("network-connection", { event: "interrupted" });
  call.emit("network-connection", { event: "connected" });
  call.emit("participant-left", { participant: { session_id: "bot-1" } });
  assert.deepEqual(states, ["connecting", "connected", "reconnecting", "connected", "ended"]);
});

/** An EventSource with the browser's listener API, driven by the test. */
class FakeEventSource {
  static last: FakeEventSource | undefined;
  readyState = 1;
  listeners = new Map<string, ((e: { data: string }) => void)[]>();
  onerror: (() => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.last = this;
  }
  addEventListener(type: string, fn: (e: { data: string }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  fire(type: string, data: string): void {
    for (const fn of this.listeners.get(type) ?? []) fn({ data });
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
}

test("SSE: hello connects, messages feed the runtime, end closes; votes are POSTed with the token", async () => {
  const posts: { url: string; body: string }[] = [];
  const fetchImpl = (async (url: string, init: { body: string }) => {
    posts.push({ url, body: init.body });
    return new Response(JSON.stringify({ accepted: true }), { status: 202 });
  }) as unknown as typeof fetch;
  const client = new SseEventsClient({ roomId: "r-1", token: "v1.abc.def", baseUrl: "http://127.0.0.1:1", EventSourceImpl: FakeEventSource as unknown as typeof EventSource, fetchImpl });
  const states: ConnectionState[] = [];
  client.onState((s) => states.push(s));
  await client.start();
  const es = FakeEventSource.last;
  assert.ok(es !== undefined);
  assert.equal(es.url, "http://127.0.0.1:1/rooms/r-1/events?token=v1.abc.def");
  es.fire("hello", JSON.stringify({ sessionId: "sess-A", status: "running", missed: 0 }));
  es.fire("message", JSON.stringify(speaking("p-a", 1, 1000, "sess-A")));
  es.fire("message", "{garbage");
  assert.equal(client.runtime.stats().dispatched, 1);
  assert.equal(client.runtime.stats().dropped.not_json, 1);
  await client.vote("vote-1", "yes");
  assert.equal(posts[0]?.url, "http://127.0.0.1:1/rooms/r-1/messages?token=v1.abc.def");
  assert.equal(JSON.parse(posts[0]?.body ?? "{}").sessionId, "sess-A");
  es.fire("dropped", JSON.stringify({ reason: "slow", lastEventId: 1 }));
  es.fire("hello", JSON.stringify({ sessionId: "sess-A", status: "running", missed: 0 }));
  es.fire("end", "{}");
  assert.ok(es.closed);
  assert.deepEqual(states, ["connecting", "connected", "reconnecting", "connected", "ended"]);
});

test("SSE: a refused vote surfaces the supervisor's message", async () => {
  const fetchImpl = (async () => new Response(JSON.stringify({ error: "forbidden", message: "this view token can only watch" }), { status: 403 })) as unknown as typeof fetch;
  const client = new SseEventsClient({ roomId: "r-1", EventSourceImpl: FakeEventSource as unknown as typeof EventSource, fetchImpl });
  await client.start();
  FakeEventSource.last?.fire("hello", JSON.stringify({ sessionId: "sess-A" }));
  await assert.rejects(client.vote("vote-1", "yes"), /can only watch/);
});
