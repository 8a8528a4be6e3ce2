import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash an approval is bound to: sha256 of the arguments' canonical JSON. */
export function argsHash(args: unknown): string {
  return sha256Hex(canonicalJson(args));
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer, chars: number): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/**
 * The task id, which is also the execution name: derived from the event's identity, so a repeated
 * delivery of the same event maps to the same execution and starts nothing new.
 * `<agent>-<26 base32 chars of sha256(identity)>`: at most 67 characters, valid as an execution name.
 */
export function taskIdFor(agent: string, identity: string): string {
  return `${agent}-${base32(createHash('sha256').update(identity).digest(), 26)}`;
}

/** An approval's id, derived from the call's idempotency key (a retried request finds the same one). */
export function approvalIdFor(idempotencyKey: string): string {
  return `ap-${base32(createHash('sha256').update(idempotencyKey).digest(), 26)}`;
}
