import { createHash } from 'node:crypto';

/** How long a FIFO queue remembers a deduplication id. */
export const DEDUP_WINDOW_MS = 5 * 60 * 1000;

/** The deduplication id of content-based deduplication: the SHA-256 of the body (not the attributes). */
export function contentDeduplicationId(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** Under which key a deduplication id is remembered: per queue, or per message group. */
export function deduplicationKey(scope: string | undefined, groupId: string, dedupId: string): string {
  return scope === 'messageGroup' ? `${groupId}\u0000${dedupId}` : dedupId;
}

/** FIFO sequence numbers: decimal, increasing per queue, fixed width so they also sort as text. */
export function formatSequenceNumber(n: number): string {
  return String(n).padStart(20, '0');
}

/** MessageGroupId and MessageDeduplicationId: up to 128 alphanumeric or punctuation characters. */
const FIFO_TOKEN = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

export function isValidFifoToken(value: string): boolean {
  return FIFO_TOKEN.test(value);
}
