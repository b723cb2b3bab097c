import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { registry } from "../src/generated/registry.js";
import { SPEC_VERSION } from "../src/generated/topics.js";
import { computeSpecVersion, normalizedSpec } from "../src/specHash.js";

/** The repo root: the nearest folder above this file that holds `spec/topics` (works from test/ and dist/test/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "spec", "topics"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("no spec/ folder above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

const root = repoRoot();
const specDir = join(root, "spec");

test("specVersion computed from spec/ equals the generated SPEC_VERSION (re-run `python -m codegen` if not)", () => {
  assert.equal(computeSpecVersion(specDir), SPEC_VERSION);
});

test("specVersion computed from spec/ equals web/src/generated/spec-version.json", () => {
  const file = JSON.parse(readFileSync(join(root, "web", "src", "generated", "spec-version.json"), "utf8")) as { specVersion: string };
  assert.equal(computeSpecVersion(specDir), file.specVersion);
  assert.equal(registry.specVersion, SPEC_VERSION);
});

test("specVersion has the documented form", () => {
  assert.match(computeSpecVersion(specDir), /^sha256:[0-9a-f]{64}$/);
});

test("topics are normalized in id order, whatever the file order", () => {
  const ids = normalizedSpec(specDir).topics.map((t) => t.id);
  assert.deepEqual(ids, [...ids].sort());
  assert.equal(ids.length, Object.keys(registry.topics).length);
});

test("any edit to a topic or a config file changes specVersion; whitespace and key order do not", () => {
  const copy = mkdtempSync(join(tmpdir(), "prism-spec-"));
  try {
    cpSync(specDir, copy, { recursive: true });
    const topicFile = join(copy, "topics", "room.vote.cast.json");
    const topic = JSON.parse(readFileSync(topicFile, "utf8")) as Record<string, unknown>;

    // Same content, different formatting and key order: same hash.
    const reordered = Object.fromEntries(Object.entries(topic).reverse());
    writeFileSync(topicFile, JSON.stringify(reordered));
    assert.equal(computeSpecVersion(copy), SPEC_VERSION);

    writeFileSync(topicFile, JSON.stringify({ ...topic, description: `${String(topic.description)} (edited)` }, null, 2));
    const edited = computeSpecVersion(copy);
    assert.notEqual(edited, SPEC_VERSION);

    writeFileSync(topicFile, JSON.stringify(topic, null, 2));
    const piiFile = join(copy, "config", "pii.json");
    const pii = JSON.parse(readFileSync(piiFile, "utf8")) as Record<string, unknown>;
    writeFileSync(piiFile, JSON.stringify({ ...pii, mask: "###" }));
    assert.notEqual(computeSpecVersion(copy), SPEC_VERSION);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
