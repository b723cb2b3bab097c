/**
 * Payload validation against each topic's JSON Schema (draft 2020-12) from the generated registry.
 *
 * The validators are compiled ahead of time (`scripts/validators.mjs`, Ajv's standalone code, in
 * `validators.generated.ts`), not at run time: compiling builds functions with `new Function`,
 * which a page can only allow with `'unsafe-eval'` in its Content-Security-Policy. A topic added to
 * spec/ is validated here with no hand-written code: `python -m codegen`, then
 * `npm --prefix web run validators` (a web test fails while the validators are stale).
 */

import type { ErrorObject, ValidateFunction } from "ajv";

import { SPEC_VERSION, type TopicId } from "../generated/topics.js";
import { validators, VALIDATORS_SPEC_VERSION } from "./validators.generated.js";

/** The first problem with a payload, as a JSON pointer under /payload and Ajv's message. */
function describe(errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  if (first === undefined) return "/payload: invalid";
  const where = `/payload${first.instancePath}`;
  if (first.keyword === "additionalProperties") {
    return `${where}: unknown field`; // never echo the field name: it is sender-controlled text
  }
  return `${where}: ${first.message ?? first.keyword}`;
}

/** Checks payloads against their topic's precompiled validator. */
export class PayloadValidator {
  private readonly table: Readonly<Record<string, ValidateFunction>>;

  constructor(table: Readonly<Record<string, ValidateFunction>> = validators) {
    if (table === validators && VALIDATORS_SPEC_VERSION !== SPEC_VERSION) {
      // Only a build from a half-regenerated checkout gets here: say what to run.
      throw new Error(`payload validators are for ${VALIDATORS_SPEC_VERSION}, the types for ${SPEC_VERSION}: run \`npm --prefix web run validators\``);
    }
    this.table = table;
  }

  /** `undefined` when the payload is valid for `topic`, else a one-line reason. */
  check(topic: TopicId, payload: unknown): string | undefined {
    const validate = this.table[topic];
    if (validate === undefined) return "/payload: no validator for this topic";
    return validate(payload) ? undefined : describe(validate.errors);
  }
}
