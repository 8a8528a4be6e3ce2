import type { SqsError } from './errors.js';

/** The namespace of every query-protocol SQS answer. */
const SQS_NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** XML text; carriage returns are written as references so parsers do not normalize them away. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return '&#xD;';
    }
  });
}

function element(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}

function scalar(v: unknown): string {
  return escapeXml(typeof v === 'string' ? v : String(v));
}

function nameValues(name: string, keyTag: string, valueTag: string, map: object): string {
  return Object.entries(map)
    .map(([k, v]) => element(name, element(keyTag, escapeXml(k)) + element(valueTag, scalar(v))))
    .join('');
}

function messageAttributes(map: object): string {
  return Object.entries(map)
    .map(([k, v]) => {
      const value = Object.entries(v as object)
        .map(([f, x]) => element(f, scalar(x)))
        .join('');
      return element('MessageAttribute', element('Name', escapeXml(k)) + element('Value', value));
    })
    .join('');
}

/** Batch answers name their success entries after the action. */
const RESULT_ENTRY: Record<string, string> = {
  SendMessageBatch: 'SendMessageBatchResultEntry',
  DeleteMessageBatch: 'DeleteMessageBatchResultEntry',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibilityBatchResultEntry',
};

/**
 * A JSON-protocol answer in the query protocol's XML: lists flattened into repeated elements, maps
 * into Name/Value (Key/Value for tags) pairs.
 */
function body(action: string, output: object): string {
  let xml = '';
  for (const [key, value] of Object.entries(output)) {
    if (value === undefined || value === null) continue;
    switch (key) {
      case 'QueueUrls':
      case 'queueUrls':
        xml += (value as string[]).map((u) => element('QueueUrl', escapeXml(u))).join('');
        break;
      case 'Attributes':
        xml += nameValues('Attribute', 'Name', 'Value', value as object);
        break;
      case 'Tags':
        xml += nameValues('Tag', 'Key', 'Value', value as object);
        break;
      case 'MessageAttributes':
        xml += messageAttributes(value as object);
        break;
      case 'Messages':
        xml += (value as object[]).map((m) => element('Message', body(action, m))).join('');
        break;
      case 'Successful':
        xml += (value as object[]).map((e) => element(RESULT_ENTRY[action] ?? 'Entry', body(action, e))).join('');
        break;
      case 'Failed':
        xml += (value as object[]).map((e) => element('BatchResultErrorEntry', body(action, e))).join('');
        break;
      default:
        xml += element(key, scalar(value));
    }
  }
  return xml;
}

/** Actions whose answer has no Result element. */
const NO_RESULT = new Set([
  'DeleteQueue',
  'SetQueueAttributes',
  'PurgeQueue',
  'DeleteMessage',
  'ChangeMessageVisibility',
  'TagQueue',
  'UntagQueue',
]);

export function xmlResponse(action: string, output: object, requestId: string): string {
  const result = NO_RESULT.has(action) ? '' : element(`${action}Result`, body(action, output));
  const metadata = element('ResponseMetadata', element('RequestId', requestId));
  return `<?xml version="1.0"?><${action}Response xmlns="${SQS_NAMESPACE}">${result}${metadata}</${action}Response>`;
}

export function xmlError(err: SqsError, requestId: string): string {
  const error = element(
    'Error',
    element('Type', err.senderFault ? 'Sender' : 'Receiver') +
      element('Code', escapeXml(err.queryCode)) +
      element('Message', escapeXml(err.message)) +
      '<Detail/>',
  );
  return `<?xml version="1.0"?><ErrorResponse xmlns="${SQS_NAMESPACE}">${error}${element('RequestId', requestId)}</ErrorResponse>`;
}
