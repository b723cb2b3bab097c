/**
 * Payload validation against each topic's JSON Schema (draft 2020-12) from the generated registry.
 *
 * Ajv compiles a topic's schema the first time an envelope of that topic arrives and keeps the
 * compiled function for the life of the page, so every payload is checked fully at the cost of one
 * compile per topic. A topic added to spec/ is validated here with no code change (`python -m
 * codegen` puts its schema in the registry).
 */

import Ajv2020Module from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";

import { registry } from "../generated/registry.js";
import type { TopicId } from "../generated/topics.js";

// ajv is CommonJS: under Node the default import is module.exports, under a bundler its .default.
type AjvClass = typeof Ajv2020Module.default;
const Ajv2020: AjvClass = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;

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

/** Compiles each topic's payload schema once and checks payloads against it. */
export class PayloadValidator {
  private readonly ajv = new Ajv2020({ allErrors: false, strict: false, validateFormats: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** Compiled validators so far (one per topic seen). */
  get compiledCount(): number {
    return this.compiled.size;
  }

  /** `undefined` when the payload is valid for `topic`, else a one-line reason. */
  check(topic: TopicId, payload: unknown): string | undefined {
    let validate = this.compiled.get(topic);
    if (validate === undefined) {
      validate = this.ajv.compile(registry.topics[topic].schema as object);
      this.compiled.set(topic, validate);
    }
    return validate(payload) ? undefined : describe(validate.errors);
  }
}
