import { StatesError, StatesErrors } from './errors.js';
import { evaluateIntrinsic, isIntrinsicCall } from './intrinsics.js';
import { type PathContext, readPathForField } from './paths.js';

/**
 * Evaluates a JSONPath-language payload template (Parameters, ResultSelector, ItemSelector, Assign):
 * keys ending in `.$` take their value from a path or an intrinsic function; everything else is literal.
 */
export function evaluatePayloadTemplate(template: unknown, ctx: PathContext): unknown {
  if (Array.isArray(template)) return template.map((v) => evaluatePayloadTemplate(v, ctx));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template as Record<string, unknown>)) {
    if (key.endsWith('.$')) {
      if (typeof value !== 'string') {
        throw new StatesError(StatesErrors.Runtime, `The value of the field '${key}' must be a string path.`);
      }
      out[key.slice(0, -2)] = evaluateDynamicValue(value, ctx, key);
    } else {
      out[key] = evaluatePayloadTemplate(value, ctx);
    }
  }
  return out;
}

/** The value of one `.$` field: an intrinsic function call or a path. */
export function evaluateDynamicValue(expr: string, ctx: PathContext, field: string): unknown {
  if (isIntrinsicCall(expr)) return evaluateIntrinsic(expr, ctx, field);
  return readPathForField(expr, ctx, field);
}
