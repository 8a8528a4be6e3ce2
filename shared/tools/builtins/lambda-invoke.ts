import { InvokeCommand, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import { awsToolError } from '../../aws-errors.js';
import { ToolFailed, ToolInputInvalid } from '../../errors.js';
import { defineTool } from '../types.js';

export const LambdaInvokeSettings = z.strictObject({
  /** The function names the model may invoke (without `prefix`). */
  functions: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Lambda function name')).min(1),
  /** Prepended to a name to get the deployed function name, e.g. `deputy-dev-`. */
  prefix: z.string().default(''),
});
export type LambdaInvokeSettings = z.infer<typeof LambdaInvokeSettings>;

export interface LambdaInvokeResult {
  function: string;
  statusCode: number;
  payload: unknown;
}

/**
 * Invokes one of the configured functions synchronously. The call's idempotency key travels in the
 * client context (`context.clientContext.custom.idempotencyKey` in a Node handler).
 */
export const lambdaInvoke = defineTool<LambdaInvokeSettings>({
  kind: 'lambda_invoke',
  description: 'Invokes one of the allowed Lambda functions with a JSON payload and returns its response.',
  settings: LambdaInvokeSettings,
  sensitive: () => true,
  inputSchema: (s) => ({
    type: 'object',
    properties: {
      function: { type: 'string', enum: [...s.functions] },
      payload: { type: 'object', description: 'The event the function receives.' },
    },
    required: ['function', 'payload'],
    additionalProperties: false,
  }),
  run: async (args, ctx, s): Promise<LambdaInvokeResult> => {
    const name = args.function;
    if (typeof name !== 'string' || !s.functions.includes(name)) {
      throw new ToolInputInvalid(`Function ${String(name)} is not allowed (allowed: ${s.functions.join(', ')}).`);
    }
    const deployed = `${s.prefix}${name}`;
    const clientContext = Buffer.from(JSON.stringify({ custom: { idempotencyKey: ctx.idempotencyKey } })).toString(
      'base64',
    );
    let out: InvokeCommandOutput;
    try {
      out = await ctx.clients.lambda.send(
        new InvokeCommand({
          FunctionName: deployed,
          InvocationType: 'RequestResponse',
          ClientContext: clientContext,
          Payload: Buffer.from(JSON.stringify(args.payload ?? {}), 'utf8'),
        }),
        { abortSignal: ctx.signal },
      );
    } catch (e) {
      throw awsToolError(e, `lambda_invoke ${deployed}`);
    }
    const payload = parsePayload(out.Payload);
    if (out.FunctionError !== undefined) {
      const detail =
        typeof payload === 'object' && payload !== null && 'errorMessage' in payload
          ? String((payload as { errorMessage: unknown }).errorMessage)
          : JSON.stringify(payload);
      throw new ToolFailed(`Function ${name} failed: ${detail}`);
    }
    return { function: name, statusCode: out.StatusCode ?? 200, payload };
  },
});

function parsePayload(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined || bytes.byteLength === 0) return null;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
