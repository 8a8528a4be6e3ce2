import { describe, expect, it } from 'vitest';
import { decodeReceipt, encodeReceipt, newNonce } from '../../../local/sqs/receipts.js';

describe('receipt handles', () => {
  it('name the receive they were made for', () => {
    const receipt = { queueId: 7, seq: 123456, nonce: newNonce() };

    const decoded = decodeReceipt(encodeReceipt(receipt));

    expect(decoded).toEqual(receipt);
  });

  it('differ for every receive of the same message', () => {
    const a = encodeReceipt({ queueId: 1, seq: 1, nonce: newNonce() });
    const b = encodeReceipt({ queueId: 1, seq: 1, nonce: newNonce() });

    expect(a).not.toBe(b);
  });

  it('are not recognized when made up, truncated or foreign', () => {
    const good = encodeReceipt({ queueId: 1, seq: 1, nonce: newNonce() });

    expect(decodeReceipt('not-a-handle')).toBeUndefined();
    expect(decodeReceipt(good.slice(0, -4))).toBeUndefined();
    expect(decodeReceipt(Buffer.from('deputy:1:1:zz').toString('base64'))).toBeUndefined();
    expect(decodeReceipt('')).toBeUndefined();
  });
});
