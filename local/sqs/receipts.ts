import { randomBytes } from 'node:crypto';

/** What a receipt handle names: one receive of one message of one queue. */
export interface Receipt {
  queueId: number;
  seq: number;
  /** Unique per receive; the message row keeps the latest one. */
  nonce: string;
}

export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/** An opaque handle (base64, like AWS's) that carries what it names, so no lookup table is needed. */
export function encodeReceipt(r: Receipt): string {
  return Buffer.from(`deputy:${r.queueId}:${r.seq}:${r.nonce}`, 'utf8').toString('base64');
}

const HANDLE = /^deputy:(\d{1,15}):(\d{1,15}):([0-9a-f]{24})$/;

/** The receive a handle names, or undefined for anything this service did not hand out. */
export function decodeReceipt(handle: string): Receipt | undefined {
  if (handle.length > 200 || !/^[A-Za-z0-9+/]+=*$/.test(handle)) return undefined;
  const m = HANDLE.exec(Buffer.from(handle, 'base64').toString('utf8'));
  if (!m) return undefined;
  return { queueId: Number(m[1]), seq: Number(m[2]), nonce: m[3] as string };
}
