import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import Ajv2020Module from "ajv/dist/2020.js";

import { validators } from "../src/client/validators.generated.js";
import { registry, TOPIC_IDS } from "../src/generated/registry.js";
import { goodValue } from "./helpers.js";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("the precompiled validators are fresh (regenerated from bot/generated/registry.json)", async () => {
  const script = join(WEB, "scripts", "validators.mjs");
  const { expected, OUTPUT } = (await import(script)) as { expected: () => string; OUTPUT: string };
  assert.ok(readFileSync(OUTPUT, "utf8") === expected(), "src/client/validators.generated.ts is stale: run `npm --prefix web run validators`");
});

test("every topic has a precompiled validator that decides like Ajv compiling the schema at run time", () => {
  type AjvClass = typeof Ajv2020Module.default;
  const Ajv2020: AjvClass = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;
  const ajv = new Ajv2020({ allErrors: false, strict: false, validateFormats: false });
  assert.deepEqual(Object.keys(validators).sort(), [...TOPIC_IDS].sort());
  for (const topic of TOPIC_IDS) {
    const schema = registry.topics[topic].schema as { properties?: Record<string, unknown> };
    const runtime = ajv.compile(schema as object);
    const precompiled = validators[topic];
    assert.ok(precompiled !== undefined, topic);
    const good = goodValue(schema as never) as Record<string, unknown>;
    const samples: unknown[] = [good, {}, null, "text", [], { ...good, unknownField: 1 }];
    for (const key of Object.keys(schema.properties ?? {})) {
      samples.push({ ...good, [key]: null }, { ...good, [key]: "x".repeat(5000) }, { ...good, [key]: -1 });
    }
    for (const sample of samples) {
      const a: boolean = runtime(sample);
      const b: boolean = precompiled(sample) as boolean;
      assert.equal(b, a, `${topic}: ${JSON.stringify(sample).slice(0, 120)}`);
      if (!a) assert.deepEqual(precompiled.errors?.[0]?.keyword, runtime.errors?.[0]?.keyword, topic);
    }
    assert.equal(precompiled(good), true, `${topic}: a valid payload`);
  }
});
