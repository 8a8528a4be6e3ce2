import type {
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';

export type ChatMessage = ChatCompletionMessageParam;
export type ChatTool = ChatCompletionTool;

export interface ModelRequest {
  messages: ChatMessage[];
  tools: ChatTool[];
  maxOutputTokens: number;
  temperature?: number;
}

/** One model call as it is stored (`tasks/<taskId>/steps/<step>/response.json`). */
export interface ModelResponse {
  schemaVersion: 1;
  /** The model name the endpoint reported (a recording says so in `endpoint`). */
  model: string;
  /** `recording` for the offline model, otherwise the base URL's host. */
  endpoint: string;
  message: Pick<ChatCompletionMessage, 'role' | 'content' | 'tool_calls'>;
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** False when the model is not in the price table: its cost counts as 0. */
  priceKnown: boolean;
  latencyMs: number;
  at: string;
}

/** A chat model behind an OpenAI-compatible API. */
export interface ChatModel {
  readonly name: string;
  readonly endpoint: string;
  complete(req: ModelRequest, signal?: AbortSignal): Promise<Omit<ModelResponse, 'costUsd' | 'priceKnown' | 'at'>>;
}
