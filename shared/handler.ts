import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DeputyError } from './errors.js';

/**
 * Wraps a Lambda entry point with middy: an abort signal that fires a second before the Lambda
 * times out (passed to the core, so a slow model or tool call stops cleanly), and one structured log
 * line for every error that escapes, with its name (what the state machine's Retry/Catch match)
 * and who is at fault.
 */
export function deputyHandler<E, R>(
  step: string,
  core: (event: E, signal: AbortSignal, context: Context) => Promise<R>,
) {
  return middy<E, R, Error, Context>({
    timeoutEarlyInMillis: 1000,
    timeoutEarlyResponse: () => {
      throw Object.assign(new Error(`${step} ran out of time`), { name: 'Sandbox.Timedout' });
    },
  })
    .use({
      onError: async (request) => {
        const e = request.error;
        console.error(
          JSON.stringify({
            level: 'error',
            step,
            error: e?.name,
            fault: e instanceof DeputyError ? e.fault : 'system',
            message: e?.message,
          }),
        );
      },
    })
    .handler(async (event, context, { signal }) => core(event, signal, context));
}
