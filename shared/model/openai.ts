import OpenAI from 'openai';
import type { z } from 'zod';
import type { ModelConfig } from '../agents/schema.js';
import { ConfigError, ModelRejected, ModelThrottled, ModelUnavailable } from '../errors.js';
import type { ChatModel, ModelRequest } from './types.js';

export interface ModelEndpoint {
  baseURL: string | undefined;
  apiKey: string;
  /** The local cloud's recorded responses, not a model. */
  offline: boolean;
}

/**
 * Where an agent's model is: the base URL and key from the environment variables its definition
 * names; with neither set, the local cloud's offline recordings when they are served
 * (`DEPUTY_OFFLINE_MODEL_URL`); otherwise a configuration error that says what to set.
 */
export function resolveModelEndpoint(model: z.infer<typeof ModelConfig>, env: NodeJS.ProcessEnv): ModelEndpoint {
  const baseURL = env[model.baseUrlEnv] || undefined;
  const apiKey = env[model.apiKeyEnv] || undefined;
  if (baseURL || apiKey) return { baseURL, apiKey: apiKey ?? 'none', offline: false };
  const offline = env.DEPUTY_OFFLINE_MODEL_URL;
  if (offline) return { baseURL: offline, apiKey: 'offline-recording', offline: true };
  throw new ConfigError(
    `no model is configured: set ${model.apiKeyEnv} (and ${model.baseUrlEnv} for a non-OpenAI endpoint) in the functions' environment`,
  );
}

/** A Chat Completions model through the `openai` SDK; any OpenAI-compatible endpoint works. */
export function openAiModel(
  config: z.infer<typeof ModelConfig>,
  endpoint: ModelEndpoint,
  headers: Record<string, string>,
): ChatModel {
  // Retries belong to the state machine (durable, visible in the history), not to the SDK.
  const client = new OpenAI({
    apiKey: endpoint.apiKey,
    ...(endpoint.baseURL !== undefined ? { baseURL: endpoint.baseURL } : {}),
    maxRetries: 0,
    timeout: config.requestTimeoutSeconds * 1000,
    defaultHeaders: headers,
  });
  const where = endpoint.offline ? 'recording' : new URL(endpoint.baseURL ?? 'https://api.openai.com/v1').host;
  return {
    name: config.name,
    endpoint: where,
    async complete(req: ModelRequest, signal?: AbortSignal) {
      const started = Date.now();
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await client.chat.completions.create(
          {
            model: config.name,
            messages: req.messages,
            ...(req.tools.length > 0 ? { tools: req.tools } : {}),
            max_completion_tokens: req.maxOutputTokens,
            ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          },
          signal ? { signal } : {},
        );
      } catch (e) {
        throw classify(e, where, endpoint.apiKey);
      }
      const choice = completion?.choices?.[0];
      if (!choice || typeof choice !== 'object' || !choice.message) {
        throw new ModelUnavailable(`the model endpoint ${where} answered without a choice (a garbled response)`);
      }
      return {
        schemaVersion: 1 as const,
        model: completion.model || config.name,
        endpoint: where,
        message: {
          role: 'assistant' as const,
          content: choice.message.content ?? null,
          ...(choice.message.tool_calls && choice.message.tool_calls.length > 0
            ? { tool_calls: choice.message.tool_calls }
            : {}),
        },
        finishReason: choice.finish_reason ?? 'unknown',
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
        latencyMs: Date.now() - started,
      };
    },
  };
}

/**
 * The endpoint's words may quote the key (some gateways and proxies echo the credential they
 * refuse): the message goes to logs, the execution history and the audit log, so the key is cut out,
 * and an error that held it is not kept as the cause.
 */
function classify(e: unknown, where: string, apiKey: string): Error {
  const said = (e as Error)?.message ?? String(e);
  const detail = apiKey.length >= 8 ? said.split(apiKey).join('[redacted]') : said;
  const cause = detail === said ? { cause: e } : {};
  if (e instanceof OpenAI.RateLimitError) return new ModelThrottled(`${where} is rate limiting: ${detail}`, cause);
  if (e instanceof OpenAI.APIConnectionError)
    return new ModelUnavailable(`${where} could not be reached: ${detail}`, cause);
  if (e instanceof OpenAI.APIError) {
    const status = e.status ?? 0;
    if (status >= 500 || status === 408 || status === 409)
      return new ModelUnavailable(`${where} failed (${status}): ${detail}`, cause);
    return new ModelRejected(`${where} refused the request (${status}): ${detail}`, cause);
  }
  // A body that is not JSON, a truncated stream: the endpoint misbehaved; a retry may get a good one.
  return new ModelUnavailable(`${where} gave an unusable response: ${detail}`, cause);
}
