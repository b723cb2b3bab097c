/**
 * `specVersion`, computed from the spec files themselves (Node only).
 *
 * This is an independent implementation of `codegen/spec.py` `Spec.normalized()` plus
 * `codegen/hashing.py`: every topic descriptor exactly as written (sorted by id), plus
 * `config/forwarding.json` and `config/pii.json`, as RFC 8785 (JCS) canonical JSON, hashed with
 * SHA-256. It never reads a generated value, so comparing its result with `SPEC_VERSION` proves
 * the generated code matches the spec (and that the TypeScript and Python JCS agree on it).
 */

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import canonicalize from "canonicalize";

/** The object whose canonical form is hashed: `{topics, forwarding, pii}`. */
export interface NormalizedSpec {
  topics: Array<Record<string, unknown> & { id: string }>;
  forwarding: unknown;
  pii: unknown;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8")) as unknown;
}

/** Compare strings by UTF-16 code units (topic ids are ASCII, so this is also code-point order). */
function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Read `specDir` (the repo's `spec/` folder) into the normalized spec. */
export function normalizedSpec(specDir: string): NormalizedSpec {
  const topicsDir = join(specDir, "topics");
  const topics = readdirSync(topicsDir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const data = readJson(join(topicsDir, name));
      if (data === null || typeof data !== "object" || Array.isArray(data) || typeof (data as { id?: unknown }).id !== "string") {
        throw new Error(`${join(topicsDir, name)}: a topic descriptor is an object with a string "id"`);
      }
      return data as Record<string, unknown> & { id: string };
    })
    .sort(byId);
  return {
    topics,
    forwarding: readJson(join(specDir, "config", "forwarding.json")),
    pii: readJson(join(specDir, "config", "pii.json")),
  };
}

/** RFC 8785 canonical JSON of a JSON value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) {
    throw new TypeError("value has no JSON representation");
  }
  return text;
}

/** `"sha256:" + hex(sha256(utf8(text)))`. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** `"sha256:" + hex(sha256(JCS(normalized spec)))` for the spec in `specDir`. */
export function computeSpecVersion(specDir: string): string {
  return "sha256:" + sha256Hex(canonicalJson(normalizedSpec(specDir)));
}
