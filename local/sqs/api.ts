import type { Caller, SqsContext } from './context.js';
import {
  changeMessageVisibility,
  changeMessageVisibilityBatch,
  deleteMessage,
  deleteMessageBatch,
  purgeQueue,
} from './handles.js';
import type { Input } from './input.js';
import {
  createQueue,
  deleteQueue,
  getQueueAttributes,
  getQueueUrl,
  listDeadLetterSourceQueues,
  listQueues,
  listQueueTags,
  setQueueAttributes,
  tagQueue,
  untagQueue,
} from './queue-ops.js';
import { receiveMessage } from './receive.js';
import { sendMessage, sendMessageBatch } from './send.js';

export type Operation = (ctx: SqsContext, input: Input, caller: Caller) => object | Promise<object>;

/** The SQS operations this service answers, by action name. */
export const OPERATIONS: ReadonlyMap<string, Operation> = new Map<string, Operation>([
  ['CreateQueue', createQueue],
  ['GetQueueUrl', getQueueUrl],
  ['ListQueues', listQueues],
  ['DeleteQueue', deleteQueue],
  ['GetQueueAttributes', getQueueAttributes],
  ['SetQueueAttributes', setQueueAttributes],
  ['PurgeQueue', purgeQueue],
  ['ListDeadLetterSourceQueues', listDeadLetterSourceQueues],
  ['TagQueue', tagQueue],
  ['UntagQueue', untagQueue],
  ['ListQueueTags', listQueueTags],
  ['SendMessage', sendMessage],
  ['SendMessageBatch', sendMessageBatch],
  ['ReceiveMessage', receiveMessage],
  ['DeleteMessage', deleteMessage],
  ['DeleteMessageBatch', deleteMessageBatch],
  ['ChangeMessageVisibility', changeMessageVisibility],
  ['ChangeMessageVisibilityBatch', changeMessageVisibilityBatch],
]);

/** Every action of the SQS API, answered here or not: a request naming one is SQS's. */
export const SQS_ACTIONS: ReadonlySet<string> = new Set([
  ...OPERATIONS.keys(),
  'AddPermission',
  'RemovePermission',
  'StartMessageMoveTask',
  'CancelMessageMoveTask',
  'ListMessageMoveTasks',
]);
