import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checksummer, computeChecksum, crc32c, crc64nvme, isWellFormedChecksum } from '../../../local/s3/checksums.js';

const CHECK = Buffer.from('123456789');

describe('checksums', () => {
  it('computes the catalogued check values', () => {
    // The "check" value of each CRC catalogue entry is the CRC of the ASCII digits 1-9.
    expect(computeChecksum('CRC32', CHECK)).toBe(Buffer.from('cbf43926', 'hex').toString('base64'));
    expect(crc32c(CHECK)).toBe(0xe3069283);
    expect(crc64nvme(CHECK)).toBe(0xae8b14860a799888n);
    expect(computeChecksum('SHA256', CHECK)).toBe(createHash('sha256').update(CHECK).digest('base64'));
  });

  it('matches what the AWS SDK sent for known bodies', () => {
    expect(computeChecksum('CRC32', Buffer.from('hello world'))).toBe('DUoRhQ==');
    expect(computeChecksum('CRC32', Buffer.from('abcdef'))).toBe('S4457w==');
    expect(computeChecksum('CRC32', Buffer.alloc(0))).toBe('AAAAAA==');
  });

  it('continues a checksum across pieces exactly as over the whole', () => {
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256));
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const c = checksummer(alg);
      c.update(data.subarray(0, 1234));
      c.update(data.subarray(1234, 1235));
      c.update(data.subarray(1235));
      expect(c.digest().toString('base64'), alg).toBe(computeChecksum(alg, data));
    }
  });

  it('tells well-formed values from malformed ones', () => {
    expect(isWellFormedChecksum('CRC32', 'DUoRhQ==')).toBe(true);
    expect(isWellFormedChecksum('CRC32', 'DUoRhQ')).toBe(false);
    expect(isWellFormedChecksum('CRC64NVME', 'DUoRhQ==')).toBe(false);
    expect(isWellFormedChecksum('SHA256', '!!!!')).toBe(false);
  });
});
