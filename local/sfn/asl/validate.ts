import { createRequire } from 'node:module';
import type { MachineDef } from './types.js';

interface AslValidatorResult {
  isValid: boolean;
  errors: { 'Error code': string; Message: string }[];
}

const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as (def: unknown) => AslValidatorResult;

/** Any JSON value is a valid JSONata `Output`; asl-validator only knows strings and objects. */
function relaxLiteralOutputs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(relaxLiteralOutputs);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    const literal = v === null || typeof v !== 'object' || Array.isArray(v);
    const jsonata = typeof v === 'string' && v.startsWith('{%') && v.endsWith('%}');
    out[k] = k === 'Output' && literal && !jsonata ? {} : relaxLiteralOutputs(v);
  }
  return out;
}

/** Validates a definition: parsed JSON and the ASL schema. Returns the problems, empty when valid. */
export function validateDefinition(text: string): { def?: MachineDef; problems: string[] } {
  let def: unknown;
  try {
    def = JSON.parse(text);
  } catch (e) {
    return { problems: [`INVALID_JSON_DESCRIPTION: ${(e as Error).message}`] };
  }
  if (def === null || typeof def !== 'object' || Array.isArray(def)) {
    return { problems: ['SCHEMA_VALIDATION_FAILED: the definition must be a JSON object'] };
  }
  let result: AslValidatorResult;
  try {
    result = aslValidator(relaxLiteralOutputs(def));
  } catch (e) {
    // asl-validator assumes every state is an object (a string state makes it throw a TypeError)
    return {
      problems: [`SCHEMA_VALIDATION_FAILED: the definition does not follow the ASL schema (${(e as Error).message})`],
    };
  }
  if (!result.isValid) return { problems: result.errors.map((e) => `${e['Error code']}: ${e.Message}`) };
  return { def: def as MachineDef, problems: [] };
}
