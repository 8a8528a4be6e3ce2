import { createHash } from 'node:crypto';
import { isAbsolute, relative } from 'node:path';
import type { ChatCompletion, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { LocalRequest, LocalResponse, LocalService } from '../service.js';
import {
  argumentsOf,
  isAgentName,
  type RecordedTurn,
  RecordingInvalid,
  RecordingLibrary,
  selectTurn,
  taskInputOf,
  turnIndexOf,
} from './recordings.js';

/** Every path of the offline model starts with this; nothing else on the AWS endpoint does. */
export const MODEL_PATH_PREFIX = '/_deputy/model/';
/** The OpenAI-compatible base path: `DEPUTY_OFFLINE_MODEL_URL` is the cloud's URL plus this. */
export const MODEL_BASE_PATH = '/_deputy/model/v1';
/** The header that names the agent whose recording answers. */
export const AGENT_HEADER = 'x-deputy-agent';
/** What the endpoint calls itself: `system_fingerprint` and the one entry of `GET /models`. */
export const RECORDING_FINGERPRINT = 'deputy-recording';

const JSON_HEADERS = { 'content-type': 'application/json' };
/** How much of the task input a "no recording" message shows. */
const MAX_INPUT_SHOWN = 2000;

function openAiError(status: number, code: string, message: string, param: string | null = null): LocalResponse {
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  return { status, headers: JSON_HEADERS, body: JSON.stringify({ error: { message, type, param, code } }) };
}

/** A path people can find: relative to the working directory when it is inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

function showInput(input: unknown): string {
  const json = JSON.stringify(input);
  return json.length > MAX_INPUT_SHOWN ? `${json.slice(0, MAX_INPUT_SHOWN)}...` : json;
}

const USE_A_REAL_MODEL = 'or set OPENAI_API_KEY (or OPENAI_BASE_URL) to use a real model.';

/** Token counts are estimated (a quarter of the characters), the same for the same request. */
function estimateTokens(value: unknown): number {
  return Math.ceil(JSON.stringify(value).length / 4);
}

function toCompletion(
  model: string,
  messages: unknown[],
  turn: RecordedTurn,
  turnIndex: number,
  key: string,
): ChatCompletion {
  const toolCalls: ChatCompletionMessageToolCall[] | undefined = turn.tool_calls?.map((c, i) => ({
    id: `call_${turnIndex}_${i}`,
    type: 'function',
    function: { name: c.name, arguments: argumentsOf(c) },
  }));
  const message: ChatCompletion.Choice['message'] = {
    role: 'assistant',
    content: turn.content ?? null,
    ...(toolCalls ? { tool_calls: toolCalls } : {}),
    refusal: null,
  };
  const prompt = estimateTokens(messages);
  const completion = estimateTokens({ content: message.content, tool_calls: toolCalls ?? [] });
  const hash = createHash('sha256')
    .update(JSON.stringify([key, messages]))
    .digest('hex')
    .slice(0, 16);
  return {
    id: `chatcmpl-rec-${hash}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: RECORDING_FINGERPRINT,
    choices: [{ index: 0, message, finish_reason: toolCalls ? 'tool_calls' : 'stop', logprobs: null }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function chatCompletion(library: RecordingLibrary, req: LocalRequest): Promise<LocalResponse> {
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch (e) {
    return openAiError(400, 'invalid_json', `The request body is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(body)) return openAiError(400, 'invalid_request', 'The request body must be a JSON object.');
  if (typeof body.model !== 'string' || body.model === '') {
    return openAiError(400, 'invalid_request', 'You must provide a model parameter.', 'model');
  }
  if (!Array.isArray(body.messages)) {
    return openAiError(400, 'invalid_request', 'messages must be an array of messages.', 'messages');
  }
  if (body.stream === true) {
    return openAiError(
      400,
      'stream_unsupported',
      'The offline model plays back recorded responses and cannot stream them: call it without stream: true.',
      'stream',
    );
  }
  const agent = req.headers[AGENT_HEADER]?.trim();
  if (!agent) {
    return openAiError(
      400,
      'missing_agent',
      `The offline model plays back agents/recordings/<agent>.yaml and needs the ${AGENT_HEADER} header to know the agent.`,
    );
  }
  if (!isAgentName(agent)) {
    return openAiError(
      400,
      'invalid_agent',
      `The ${AGENT_HEADER} header is not an agent name: ${JSON.stringify(agent)}.`,
    );
  }
  const file = library.fileFor(agent);
  const task = taskInputOf(body.messages);
  if (!task.ok) {
    return openAiError(
      400,
      'no_task_input',
      `The offline model matches recordings on the task input, but ${task.problem}.`,
      'messages',
    );
  }

  let recording: Awaited<ReturnType<RecordingLibrary['forAgent']>>;
  try {
    recording = await library.forAgent(agent);
  } catch (e) {
    if (!(e instanceof RecordingInvalid)) throw e;
    return openAiError(400, 'invalid_recording', `The recording of agent "${agent}" is invalid:\n${e.message}`);
  }
  const turnIndex = turnIndexOf(body.messages);
  const selection = recording ? selectTurn(recording, task.input, turnIndex) : { kind: 'no_match' as const };
  if (selection.kind === 'no_match') {
    const where = recording
      ? `no conversation in ${shown(file)} matches`
      : `there is no recording for it (${shown(file)} does not exist) to match`;
    return openAiError(
      400,
      'no_recording',
      `The offline model is a recording, not a model: it only plays back the recorded responses in agents/recordings, and for agent "${agent}" ${where} this task input: ${showInput(task.input)}. Record a conversation for it, ${USE_A_REAL_MODEL}`,
    );
  }
  if (selection.kind === 'exhausted') {
    const { conversation } = selection;
    return openAiError(
      400,
      'recording_exhausted',
      `The offline model has no turn ${turnIndex} to play back: conversation "${conversation.name}" of agent "${agent}" (${shown(file)}) records ${conversation.turns.length} turn(s), and the request already has ${turnIndex} assistant message(s). Add turns to the recording, ${USE_A_REAL_MODEL}`,
    );
  }
  const key = `${agent}/${selection.conversation.name}#${turnIndex}`;
  const completion = toCompletion(body.model, body.messages, selection.turn, turnIndex, key);
  return {
    status: 200,
    headers: {
      ...JSON_HEADERS,
      'x-request-id': completion.id,
      // Says which recording answered; encoded because a conversation name may be any text.
      'x-deputy-recording': encodeURIComponent(key),
    },
    body: JSON.stringify(completion),
  };
}

function listModels(): LocalResponse {
  const body = {
    object: 'list',
    data: [{ id: RECORDING_FINGERPRINT, object: 'model', created: 0, owned_by: 'deputy' }],
  };
  return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/**
 * The offline model: an OpenAI-compatible Chat Completions endpoint on the local cloud that plays
 * back the recorded responses in `recordingsDir` (`<agent>.yaml`, re-read when it changes). It is a
 * recording, not a model: a request that no recording matches gets a 400 saying so.
 *
 * @example
 * const openai = new OpenAI({ baseURL: `${cloud.url}/_deputy/model/v1`, apiKey: 'offline',
 *   defaultHeaders: { 'x-deputy-agent': 'refunds' } });
 */
export function createModelReplayService(recordingsDir: string): LocalService {
  const library = new RecordingLibrary(recordingsDir);
  return {
    name: 'model-replay',
    matches: (req) => req.path.startsWith(MODEL_PATH_PREFIX),
    handle: async (req) => {
      const path = req.path.length > 1 && req.path.endsWith('/') ? req.path.slice(0, -1) : req.path;
      try {
        if (req.method === 'POST' && path === `${MODEL_BASE_PATH}/chat/completions`) {
          return await chatCompletion(library, req);
        }
        if (req.method === 'GET' && path === `${MODEL_BASE_PATH}/models`) return listModels();
        return openAiError(
          404,
          'unknown_url',
          `The offline model answers POST ${MODEL_BASE_PATH}/chat/completions and GET ${MODEL_BASE_PATH}/models, not ${req.method} ${req.path}.`,
        );
      } catch (e) {
        return openAiError(500, 'internal_error', `The offline model failed: ${(e as Error)?.message ?? String(e)}`);
      }
    },
    close: async () => undefined,
  };
}
