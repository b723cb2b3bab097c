/** Builders shared by the runtime and client tests: envelopes, and payloads made from the schemas. */

import { v7 as uuidv7 } from "uuid";

import { registry, TOPIC_IDS } from "../src/generated/registry.js";
import { SPEC_VERSION, type TopicId } from "../src/generated/topics.js";

type Schema = { [key: string]: unknown };

/** Sample strings for the spec's patterns; a new pattern fails loudly here until a sample is added. */
const PATTERN_SAMPLES: Record<string, string> = {
  "^[A-Za-z0-9_.*-]*$": "room.vote.*",
  "^[A-Za-z0-9_.:-]{1,64}$": "rule-1",
  "^[a-z][a-z0-9+.-]*://[^?#\\s]*$": "https://example.daily.co/room",
  "^sha256:[0-9a-f]{64}$": `sha256:${"a".repeat(64)}`,
};

/** A valid value for `schema` (every property, optional ones too). */
export function goodValue(schema: Schema): unknown {
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  for (const key of ["anyOf", "oneOf"]) {
    const options = schema[key];
    if (Array.isArray(options)) return goodValue(options[0] as Schema);
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") ?? "null";
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      for (const [k, v] of Object.entries(props)) out[k] = goodValue(v);
      return out;
    }
    case "array": {
      const n = Math.max(1, Number(schema.minItems ?? 1));
      const items = Array.from({ length: n }, () => goodValue((schema.items ?? {}) as Schema));
      return schema.uniqueItems ? items.map((v, i) => (typeof v === "string" && i > 0 ? `${v}${i}` : v)) : items;
    }
    case "string": {
      if (typeof schema.pattern === "string") {
        const sample = PATTERN_SAMPLES[schema.pattern];
        if (sample === undefined) throw new Error(`add a sample string for the pattern ${schema.pattern} to test/helpers.ts`);
        return sample;
      }
      return "x".repeat(Math.max(1, Number(schema.minLength ?? 1)));
    }
    case "integer":
      return Math.max(0, Number(schema.minimum ?? 0), Math.floor(Number(schema.exclusiveMinimum ?? -1)) + 1);
    case "number": {
      const min = Number(schema.minimum ?? schema.exclusiveMinimum ?? 0);
      const max = Number(schema.maximum ?? min + 1);
      return "exclusiveMinimum" in schema ? (min + max) / 2 : min;
    }
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return {};
  }
}

/** Invalid payloads for a topic, each with what is wrong. */
export function badPayloads(topic: TopicId): [string, unknown][] {
  const schema = registry.topics[topic].schema as Schema;
  const good = goodValue(schema) as Record<string, unknown>;
  const out: [string, unknown][] = [["an extra field", { ...good, surprise: 1 }]];
  const required = (schema.required ?? []) as string[];
  if (required[0] !== undefined) {
    const missing = { ...good };
    delete missing[required[0]];
    out.push([`no ${required[0]}`, missing]);
  }
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [k, v] of Object.entries(props)) {
    const types = Array.isArray(v.type) ? v.type : [v.type];
    const wrong = types.includes("string") ? 12345 : "a string";
    out.push([`${k} of the wrong type`, { ...good, [k]: wrong }]);
    break;
  }
  return out;
}

let clock = Date.UTC(2026, 0, 1);

/** An envelope of `topic` as `runtime` (default: the topic's first origin) would publish it. */
export function envelope(topic: TopicId, payload: unknown, seq: number, options: { sessionId?: string; runtime?: string; specVersion?: string } = {}): Record<string, unknown> {
  const ts = ++clock;
  return {
    id: uuidv7({ msecs: ts }),
    ts,
    topic,
    specVersion: options.specVersion ?? SPEC_VERSION,
    runtime: options.runtime ?? registry.topics[topic].origin[0],
    sessionId: options.sessionId ?? "session-1",
    payload,
    meta: { seq },
  };
}

export const ALL_TOPICS: readonly TopicId[] = TOPIC_IDS;

export function speaking(participantId: string, seq: number, mediaTimeMs = 1000, sessionId = "session-1"): Record<string, unknown> {
  return envelope("room.speaking.started", { participantId, mediaTimeMs }, seq, { sessionId });
}
