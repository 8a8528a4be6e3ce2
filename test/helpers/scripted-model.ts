import type { ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { ChatModel, ModelRequest, ModelResponse } from '../../shared/model/types.js';

/**
 * A `ChatModel` that replays a script, for unit tests of the pipeline. Each request gets the next
 * reply of an array, or whatever a function of the request returns. When the script has no reply
 * the model THROWS (a test must never get a silent default answer), and `requests` keeps every
 * request it received, answered or not.
 */

export interface ScriptedToolCall {
  name: string;
  /** An object is sent as its JSON; a string exactly as given (to fake broken arguments). */
  arguments: object | string;
  /** Default `call_<request index>_<i>`. */
  id?: string;
}

export type ScriptedReply =
  | { content?: string | null; toolCalls?: ScriptedToolCall[]; inputTokens?: number; outputTokens?: number }
  /** The model call fails with this error (e.g. ModelThrottled). */
  | { error: Error };

export type Script = ScriptedReply[] | ((req: ModelRequest, index: number) => ScriptedReply | undefined);

export interface ScriptedModel extends ChatModel {
  /** Every request received, in order (copies: later mutation by the caller does not show). */
  readonly requests: ModelRequest[];
}

export const SCRIPTED_INPUT_TOKENS = 100;
export const SCRIPTED_OUTPUT_TOKENS = 20;

export function scriptedModel(script: Script, name = 'gpt-4o-mini'): ScriptedModel {
  const requests: ModelRequest[] = [];
  return {
    name,
    endpoint: 'scripted',
    requests,
    async complete(req) {
      const index = requests.length;
      requests.push(structuredClone(req));
      const reply = typeof script === 'function' ? script(req, index) : script[index];
      if (reply === undefined) {
        const have = typeof script === 'function' ? 'the script function returned nothing' : `${script.length} replies`;
        throw new Error(
          `scripted model: the script ran out at request #${index + 1} (${have}); last message: ${JSON.stringify(req.messages.at(-1))}`,
        );
      }
      if ('error' in reply) throw reply.error;
      const toolCalls: ChatCompletionMessageToolCall[] | undefined = reply.toolCalls?.map((c, i) => ({
        id: c.id ?? `call_${index}_${i}`,
        type: 'function',
        function: {
          name: c.name,
          arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
        },
      }));
      const message: ModelResponse['message'] = {
        role: 'assistant',
        content: reply.content ?? null,
        ...(toolCalls && toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      };
      return {
        schemaVersion: 1,
        model: name,
        endpoint: 'scripted',
        message,
        finishReason: toolCalls ? 'tool_calls' : 'stop',
        inputTokens: reply.inputTokens ?? SCRIPTED_INPUT_TOKENS,
        outputTokens: reply.outputTokens ?? SCRIPTED_OUTPUT_TOKENS,
        latencyMs: 1,
      };
    },
  };
}
