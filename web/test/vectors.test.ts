import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { canonicalJson, sha256Hex } from "../src/specHash.js";

interface Vector {
  name: string;
  input: string;
  canonical: string;
  sha256: string;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "spec", "topics"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("no spec/ folder above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

const vectors = JSON.parse(readFileSync(join(repoRoot(), "spec", "vectors", "jcs.json"), "utf8")) as Vector[];

test("the shared vector file is well formed", () => {
  assert.ok(Array.isArray(vectors) && vectors.length >= 10, "expected at least 10 vectors");
  const names = new Set(vectors.map((v) => v.name));
  assert.equal(names.size, vectors.length, "vector names are unique");
  for (const v of vectors) {
    assert.equal(typeof v.input, "string");
    assert.equal(typeof v.canonical, "string");
    assert.match(v.sha256, /^[0-9a-f]{64}$/);
  }
});

for (const v of vectors) {
  test(`RFC 8785: ${v.name}`, () => {
    const canonical = canonicalJson(JSON.parse(v.input));
    assert.equal(canonical, v.canonical);
    assert.equal(sha256Hex(canonical), v.sha256);
    // Canonical output is a fixed point.
    assert.equal(canonicalJson(JSON.parse(canonical)), canonical);
  });
}
