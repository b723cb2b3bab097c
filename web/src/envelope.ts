/**
 * Browser-side envelopes: build the ones a browser may publish, check the ones it receives.
 *
 * Runs in browsers and Node (no Node-only imports). Types and the registry come from
 * `./generated/` (`python -m codegen`), so topic ids, payload shapes and origins follow the spec.
 */

import { v7 as uuidv7 } from "uuid";

import { isTopicId, mayPublish, type PublishableTopicId } from "./generated/registry.js";
import { SPEC_VERSION, type AnyEnvelope, type Envelope, type Runtime, type TopicPayloads } from "./generated/topics.js";

/** Topics a browser may publish (their `origin` lists `browser`). */
export type BrowserTopicId = PublishableTopicId<"browser">;

/** Context and delivery fields of a new envelope. */
export interface EnvelopeOptions {
  /** The session (room) the envelope belongs to. */
  sessionId: string;
  /** Contiguous from 1 per session and runtime: the caller owns the counter. */
  seq: number;
  assistantId?: string;
  tenantId?: string;
  roomId?: string;
  mediaTimeMs?: number;
  /** Clock for `ts` (ms since the Unix epoch); defaults to `Date.now`. */
  now?: () => number;
}

export const UUID7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const SPEC_VERSION_PATTERN = /^sha256:[0-9a-f]{64}$/;
const RUNTIMES: readonly Runtime[] = ["bot", "browser", "supervisor"];
const MAX_ID_LENGTH = 128;

/** The 48-bit Unix-ms timestamp inside a UUIDv7 string. */
export function uuid7Ms(id: string): number {
  return Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);
}

function isContextString(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= MAX_ID_LENGTH;
}

/**
 * A new envelope for `topic`, published by this browser. `id` is a UUIDv7 whose timestamp is
 * exactly `ts`. Throws a TypeError on programming errors (a topic browsers may not publish, a bad
 * `seq` or `sessionId`); the payload's type is checked at compile time.
 */
export function createEnvelope<T extends BrowserTopicId>(topic: T, payload: TopicPayloads[T], options: EnvelopeOptions): Envelope<T> {
  if (!mayPublish(topic, "browser")) {
    throw new TypeError(`browsers may not publish ${JSON.stringify(topic)}`);
  }
  if (!Number.isSafeInteger(options.seq) || options.seq < 1) {
    throw new TypeError("seq must be an integer >= 1");
  }
  if (!isContextString(options.sessionId)) {
    throw new TypeError(`sessionId must be 1 to ${MAX_ID_LENGTH} characters`);
  }
  const ts = (options.now ?? Date.now)();
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new TypeError("the clock must return integer ms since the epoch");
  }
  const envelope: Envelope<T> = {
    id: uuidv7({ msecs: ts }),
    ts,
    topic,
    specVersion: SPEC_VERSION,
    runtime: "browser",
    sessionId: options.sessionId,
    payload,
    meta: { seq: options.seq },
  };
  for (const key of ["assistantId", "tenantId", "roomId"] as const) {
    const value = options[key];
    if (value !== undefined) {
      envelope[key] = value;
    }
  }
  if (options.mediaTimeMs !== undefined) {
    envelope.meta.mediaTimeMs = options.mediaTimeMs;
  }
  return envelope;
}

/** Why an inbound message was rejected (the names match `events.inbound.rejected` reasons). */
export type InboundRejectReason = "not_json" | "schema" | "spec_version" | "unknown_topic" | "origin";

/** The outcome of {@link checkInbound}. */
export type InboundResult =
  | { ok: true; envelope: AnyEnvelope }
  | { ok: false; reason: InboundRejectReason; detail: string; topic?: string };

const ENVELOPE_KEYS = new Set(["id", "ts", "topic", "specVersion", "runtime", "sessionId", "assistantId", "tenantId", "roomId", "payload", "pii", "meta"]);
const META_KEYS = new Set(["seq", "attempt", "sampleRate", "mediaTimeMs"]);
const PII_KEYS = new Set(["level", "redacted"]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isIntAtLeast(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

function unknownKey(value: Record<string, unknown>, allowed: Set<string>): string | undefined {
  return Object.keys(value).find((key) => !allowed.has(key));
}

/** The first problem with the envelope fields (not the payload's contents), or undefined. */
function shapeError(value: Record<string, unknown>): string | undefined {
  const extra = unknownKey(value, ENVELOPE_KEYS);
  if (extra !== undefined) return `/${extra}: unknown envelope field`;
  if (typeof value.id !== "string" || !UUID7_PATTERN.test(value.id)) return "/id: not a lower-case UUIDv7";
  if (!isIntAtLeast(value.ts, 0)) return "/ts: not an integer >= 0";
  if (uuid7Ms(value.id) !== value.ts) return "/ts: differs from the timestamp in /id";
  if (!RUNTIMES.includes(value.runtime as Runtime)) return "/runtime: not bot, browser or supervisor";
  if (!isContextString(value.sessionId)) return `/sessionId: not a string of 1 to ${MAX_ID_LENGTH} characters`;
  for (const key of ["assistantId", "tenantId", "roomId"]) {
    if (key in value && !isContextString(value[key])) return `/${key}: not a string of 1 to ${MAX_ID_LENGTH} characters`;
  }
  if (!isPlainObject(value.payload)) return "/payload: not an object";
  if ("pii" in value) {
    const pii = value.pii;
    if (!isPlainObject(pii)) return "/pii: not an object";
    const extraPii = unknownKey(pii, PII_KEYS);
    if (extraPii !== undefined) return `/pii/${extraPii}: unknown field`;
    if (!isIntAtLeast(pii.level, 0) || pii.level > 3) return "/pii/level: not an integer 0 to 3";
    if (!Array.isArray(pii.redacted) || !pii.redacted.every((p) => typeof p === "string")) return "/pii/redacted: not an array of strings";
  }
  const meta = value.meta;
  if (!isPlainObject(meta)) return "/meta: not an object";
  const extraMeta = unknownKey(meta, META_KEYS);
  if (extraMeta !== undefined) return `/meta/${extraMeta}: unknown field`;
  if (!isIntAtLeast(meta.seq, 1)) return "/meta/seq: not an integer >= 1";
  if ("attempt" in meta && !isIntAtLeast(meta.attempt, 1)) return "/meta/attempt: not an integer >= 1";
  if ("mediaTimeMs" in meta && !isIntAtLeast(meta.mediaTimeMs, 0)) return "/meta/mediaTimeMs: not an integer >= 0";
  if ("sampleRate" in meta) {
    const rate = meta.sampleRate;
    if (typeof rate !== "number" || !(rate > 0 && rate <= 1)) return "/meta/sampleRate: not a number in (0, 1]";
  }
  return undefined;
}

function topicHint(value: unknown): string | undefined {
  return typeof value === "string" && value.length <= MAX_ID_LENGTH && /^[A-Za-z0-9._*-]+$/.test(value) ? value : undefined;
}

function reject(reason: InboundRejectReason, detail: string, topic?: unknown): InboundResult {
  const hint = topicHint(topic);
  return hint === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, topic: hint };
}

/**
 * Check an envelope received from the bot (a Daily app message: the parsed value, or JSON text).
 *
 * Checks the envelope's shape, that its `specVersion` equals this build's SPEC_VERSION, that the
 * topic is in the spec, and that the envelope's `runtime` may publish it. It does not validate the
 * payload's fields against the topic's JSON Schema (`registry.topics[topic].schema` has it), and it
 * cannot tell who sent the message: compare Daily's sender id with the bot's participant id too.
 * `acceptSpecVersion` lets one other spec version through (the runtime's "continue" mode, which then
 * validates each payload against this build's schemas).
 * Never throws.
 */
export function checkInbound(raw: unknown, options: { acceptSpecVersion?: string } = {}): InboundResult {
  try {
    let value: unknown = raw;
    if (typeof raw === "string") {
      try {
        value = JSON.parse(raw) as unknown;
      } catch {
        return reject("not_json", "not JSON text");
      }
    }
    if (!isPlainObject(value)) {
      return reject("schema", `an envelope is a JSON object, got ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`);
    }
    const topic = value.topic;
    if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_ID_LENGTH) {
      return reject("schema", "/topic: missing or not a string of 1 to 128 characters");
    }
    if (typeof value.specVersion !== "string" || !SPEC_VERSION_PATTERN.test(value.specVersion)) {
      return reject("schema", "/specVersion: not sha256: + 64 lower-case hex", topic);
    }
    if (value.specVersion !== SPEC_VERSION && value.specVersion !== options.acceptSpecVersion) {
      return reject("spec_version", `sender is on spec ${value.specVersion}, this build on ${SPEC_VERSION}`, topic);
    }
    if (!isTopicId(topic)) {
      return reject("unknown_topic", "no such topic in the spec", topic);
    }
    const problem = shapeError(value);
    if (problem !== undefined) {
      return reject("schema", problem, topic);
    }
    if (!mayPublish(topic, value.runtime as Runtime)) {
      return reject("origin", `runtime ${String(value.runtime)} may not publish ${topic}`, topic);
    }
    return { ok: true, envelope: value as unknown as AnyEnvelope };
  } catch {
    // Hostile values (throwing getters, proxies) end here rather than in the caller.
    return reject("schema", "the value could not be inspected");
  }
}
