/**
 * The browser's event runtime: every envelope from the bot goes through `receive()`, which checks
 * it fully (envelope fields, spec version, topic, origin, the payload against the topic's JSON
 * Schema), drops and counts anything bad (never throws), drops duplicates by `meta.seq`, keeps a
 * bounded replay buffer per topic family, and dispatches to subscribers. Transports (Daily app
 * messages, the supervisor's SSE feed) only feed `receive()`.
 *
 * No Node-only imports: this runs in pages.
 */

import { v7 as uuidv7 } from "uuid";

import { checkInbound } from "../envelope.js";
import { SPEC_VERSION, type AnyEnvelope, type Envelope, type TopicId } from "../generated/topics.js";
import { compilePattern, topicFamily, type TopicMatcher } from "./patterns.js";
import { PayloadValidator } from "./validate.js";

/** Why an envelope was not dispatched. */
export type DropReason =
  | "not_json"
  | "too_large"
  | "schema"
  | "payload"
  | "spec_version"
  | "unknown_topic"
  | "origin"
  | "sender"
  | "duplicate";

/** A handler of envelopes matching a pattern. The envelope is typed when the pattern is a topic id. */
export type Handler<E = AnyEnvelope> = (envelope: E) => void;

/** Options of {@link EventRuntime}. */
export interface RuntimeOptions {
  /** What to do with envelopes of another spec version: `continue` (default) publishes
   * `events.runtime.version.mismatch` once per remote version and keeps every envelope whose
   * topic and payload still validate against this build's spec; `refuse` drops them all. */
  onSpecMismatch?: "continue" | "refuse";
  /** Envelopes kept per topic family for late subscribers (default 64). */
  replayPerFamily?: number;
  /** Largest inbound text accepted, in UTF-16 code units (default 64 KiB; Daily's limit is 4 KB). */
  maxInboundChars?: number;
  /** Called when a handler throws (after the other handlers ran). Default: console.error. */
  onHandlerError?: (error: unknown, topic: string) => void;
  /** Clock for local envelopes (ms since the epoch). */
  now?: () => number;
}

/** The last dropped envelope: why, where (a JSON pointer and rule), its topic when readable. */
export interface DropRecord {
  reason: DropReason;
  detail: string;
  topic?: string;
}

/** Counters of one runtime. */
export interface RuntimeStats {
  received: number;
  dispatched: number;
  dropped: Partial<Record<DropReason, number>>;
  droppedTotal: number;
  /** `meta.seq` values skipped (per session and runtime). On Daily, topics not routed to browsers
   * leave holes too, so there this is an upper bound of losses; on the SSE feed it is exact. */
  gaps: number;
  /** Envelopes whose `meta.seq` was already seen: dropped, never dispatched twice. */
  duplicates: number;
  handlerErrors: number;
  lastDropped?: DropRecord;
}

interface Subscription {
  matcher: TopicMatcher;
  handler: Handler;
}

const SEEN_WINDOW = 1024;

/** Per session and runtime: the highest seq, and the recent seqs seen (to tell late from duplicate). */
class SeqTracker {
  last = 0;
  readonly seen = new Set<number>();
  readonly order: number[] = [];

  /** "new", "late" (a gap filled) or "duplicate". */
  note(seq: number): "new" | "late" | "duplicate" {
    if (this.seen.has(seq)) return "duplicate";
    if (seq <= this.last && (this.order.length < SEEN_WINDOW || seq > (this.order[0] ?? 0))) {
      this.remember(seq);
      return "late";
    }
    if (seq <= this.last) return "duplicate"; // older than what we remember: assume seen
    this.remember(seq);
    return "new";
  }

  private remember(seq: number): void {
    this.seen.add(seq);
    this.order.push(seq);
    if (this.order.length > SEEN_WINDOW) {
      const old = this.order.shift();
      if (old !== undefined) this.seen.delete(old);
    }
  }
}

/** The runtime. One per page (or per room view). */
export class EventRuntime {
  private readonly subscriptions = new Set<Subscription>();
  private readonly replay = new Map<string, AnyEnvelope[]>();
  private readonly seqs = new Map<string, SeqTracker>();
  private readonly validator = new PayloadValidator();
  private readonly mismatchReported = new Set<string>();
  private readonly options: Required<Omit<RuntimeOptions, "onHandlerError">> & { onHandlerError: RuntimeOptions["onHandlerError"] | undefined };
  private arrivalCounter = 0;
  private localSeq = 0;
  private readonly localSession = `browser-${Math.random().toString(36).slice(2, 10)}`;
  private readonly counters: RuntimeStats = { received: 0, dispatched: 0, dropped: {}, droppedTotal: 0, gaps: 0, duplicates: 0, handlerErrors: 0 };

  constructor(options: RuntimeOptions = {}) {
    this.options = {
      onSpecMismatch: options.onSpecMismatch ?? "continue",
      replayPerFamily: options.replayPerFamily ?? 64,
      maxInboundChars: options.maxInboundChars ?? 64 * 1024,
      now: options.now ?? Date.now,
      onHandlerError: options.onHandlerError,
    };
  }

  /**
   * Subscribe to an exact topic, a `prefix.*` or `*`. With `replay`, matching envelopes still in the
   * replay buffer are delivered first (oldest first), so a view that mounts late shows the current
   * state. Returns the unsubscribe function.
   */
  subscribe<T extends TopicId>(pattern: T, handler: Handler<Envelope<T>>, options?: { replay?: boolean }): () => void;
  subscribe(pattern: string, handler: Handler, options?: { replay?: boolean }): () => void;
  subscribe(pattern: string, handler: Handler<never>, options: { replay?: boolean } = {}): () => void {
    const sub: Subscription = { matcher: compilePattern(pattern), handler: handler as Handler };
    if (options.replay) {
      for (const envelope of this.buffered(sub.matcher)) this.call(sub, envelope);
    }
    this.subscriptions.add(sub);
    return () => {
      this.subscriptions.delete(sub);
    };
  }

  /** Buffered envelopes matching `pattern`, oldest first. */
  recent(pattern: string): AnyEnvelope[] {
    return this.buffered(compilePattern(pattern));
  }

  /** The newest buffered envelope of a topic (the last dominance score, the open vote, …). */
  latest<T extends TopicId>(topic: T): Envelope<T> | undefined {
    const family = this.replay.get(topicFamily(topic)) ?? [];
    for (let i = family.length - 1; i >= 0; i--) {
      const e = family[i];
      if (e !== undefined && e.topic === topic) return e as unknown as Envelope<T>;
    }
    return undefined;
  }

  /** A copy of the counters. */
  stats(): RuntimeStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  /** Count a drop decided outside (a transport's sender check), with the same bookkeeping. */
  drop(reason: DropReason, detail: string, topic?: string): void {
    this.counters.received += 1;
    this.countDrop({ reason, detail, ...(topic === undefined ? {} : { topic }) });
  }

  /**
   * Check and dispatch one inbound message (an object, or JSON text). Returns the envelope when it
   * was dispatched, else the drop record. Never throws.
   */
  receive(raw: unknown): { ok: true; envelope: AnyEnvelope } | { ok: false; drop: DropRecord } {
    this.counters.received += 1;
    try {
      return this.receiveUnsafe(raw);
    } catch {
      return { ok: false, drop: this.countDrop({ reason: "schema", detail: "the value could not be inspected" }) };
    }
  }

  private receiveUnsafe(raw: unknown): { ok: true; envelope: AnyEnvelope } | { ok: false; drop: DropRecord } {
    if (typeof raw === "string" && raw.length > this.options.maxInboundChars) {
      return { ok: false, drop: this.countDrop({ reason: "too_large", detail: `over ${this.options.maxInboundChars} characters` }) };
    }
    const remote = remoteVersion(raw);
    let accept: string | undefined;
    if (remote !== undefined && remote !== SPEC_VERSION) {
      this.reportMismatch(remote);
      if (this.options.onSpecMismatch === "continue") accept = remote;
    }
    const checked = checkInbound(raw, accept === undefined ? {} : { acceptSpecVersion: accept });
    if (!checked.ok) {
      const record: DropRecord = { reason: checked.reason, detail: checked.detail };
      if (checked.topic !== undefined) record.topic = checked.topic;
      return { ok: false, drop: this.countDrop(record) };
    }
    const envelope = checked.envelope;
    const problem = this.validator.check(envelope.topic, envelope.payload);
    if (problem !== undefined) {
      return { ok: false, drop: this.countDrop({ reason: "payload", detail: problem, topic: envelope.topic }) };
    }
    const key = `${envelope.sessionId}/${envelope.runtime}`;
    let tracker = this.seqs.get(key);
    if (tracker === undefined) {
      tracker = new SeqTracker();
      this.seqs.set(key, tracker);
      if (this.seqs.size > 64) this.seqs.delete(this.seqs.keys().next().value as string);
    }
    const seq = envelope.meta.seq;
    const last = tracker.last;
    const kind = tracker.note(seq);
    if (kind === "duplicate") {
      this.counters.duplicates += 1;
      return { ok: false, drop: this.countDrop({ reason: "duplicate", detail: `meta.seq ${seq} again`, topic: envelope.topic }) };
    }
    if (kind === "late") {
      this.counters.gaps = Math.max(0, this.counters.gaps - 1);
    } else {
      if (seq > last + 1 && last > 0) this.counters.gaps += seq - last - 1;
      tracker.last = seq;
    }
    this.dispatch(envelope);
    return { ok: true, envelope };
  }

  /** Buffer and hand to every matching handler (each isolated from the others). */
  private dispatch(envelope: AnyEnvelope): void {
    this.arrivalCounter += 1;
    const family = topicFamily(envelope.topic);
    let buffer = this.replay.get(family);
    if (buffer === undefined) {
      buffer = [];
      this.replay.set(family, buffer);
    }
    buffer.push(envelope);
    arrival.set(envelope, this.arrivalCounter);
    if (buffer.length > this.options.replayPerFamily) buffer.shift();
    this.counters.dispatched += 1;
    for (const sub of [...this.subscriptions]) {
      if (sub.matcher(envelope.topic)) this.call(sub, envelope);
    }
  }

  private call(sub: Subscription, envelope: AnyEnvelope): void {
    try {
      sub.handler(envelope);
    } catch (error) {
      this.counters.handlerErrors += 1;
      (this.options.onHandlerError ?? ((e: unknown, t: string) => console.error(`handler of ${t} failed`, e)))(error, envelope.topic);
    }
  }

  private buffered(matcher: TopicMatcher): AnyEnvelope[] {
    const out: AnyEnvelope[] = [];
    for (const [, buffer] of this.replay) {
      for (const e of buffer) if (matcher(e.topic)) out.push(e);
    }
    return out.sort((a, b) => (arrival.get(a) ?? 0) - (arrival.get(b) ?? 0));
  }

  private countDrop(record: DropRecord): DropRecord {
    this.counters.dropped[record.reason] = (this.counters.dropped[record.reason] ?? 0) + 1;
    this.counters.droppedTotal += 1;
    this.counters.lastDropped = record;
    return record;
  }

  /** Publish a local, typed `events.runtime.version.mismatch` once per remote version. */
  private reportMismatch(remote: string): void {
    if (this.mismatchReported.has(remote) || this.mismatchReported.size > 16) return;
    this.mismatchReported.add(remote);
    const ts = this.options.now();
    const envelope: Envelope<"events.runtime.version.mismatch"> = {
      id: uuidv7({ msecs: ts }),
      ts,
      topic: "events.runtime.version.mismatch",
      specVersion: SPEC_VERSION,
      runtime: "browser",
      sessionId: this.localSession,
      payload: { runtime: "browser", localSpecVersion: SPEC_VERSION, remoteSpecVersion: remote, source: "inbound" },
      meta: { seq: ++this.localSeq },
    };
    this.dispatch(envelope);
  }
}

const arrival = new WeakMap<object, number>();

/** The `specVersion` of a raw message when it is well formed (a regex on JSON text: no second parse). */
function remoteVersion(raw: unknown): string | undefined {
  if (typeof raw === "string") {
    return /"specVersion"\s*:\s*"(sha256:[0-9a-f]{64})"/.exec(raw)?.[1];
  }
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const v = (raw as { specVersion?: unknown }).specVersion;
    return typeof v === "string" && /^sha256:[0-9a-f]{64}$/.test(v) ? v : undefined;
  }
  return undefined;
}
