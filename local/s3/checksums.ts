import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The flexible checksums of S3 (`x-amz-checksum-*`), each as the base64 of its big-endian bytes.
 * CRC32 comes from zlib; CRC32C and CRC64NVME are table-driven here (Node has neither).
 */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** Byte length of each checksum, to reject malformed values before comparing. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };

export function checksumHeader(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

export function parseChecksumAlgorithm(name: string): ChecksumAlgorithm | undefined {
  const upper = name.toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper) ? (upper as ChecksumAlgorithm) : undefined;
}

/** Whether `value` is base64 of exactly the digest size of `alg`. */
export function isWellFormedChecksum(alg: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return false;
  return Buffer.from(value, 'base64').length === DIGEST_BYTES[alg];
}

function makeTable32(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
}

let crc32cTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78); `prev` continues an earlier value. */
export function crc32c(data: Uint8Array, prev = 0): number {
  crc32cTable ??= makeTable32(0x82f63b78);
  const t = crc32cTable;
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

let crc64Hi: Uint32Array | undefined;
let crc64Lo: Uint32Array | undefined;

/**
 * CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones), with the 64-bit
 * register held as two 32-bit halves: BigInt per byte would be far slower.
 */
export function crc64nvme(data: Uint8Array, prev = 0n): bigint {
  if (!crc64Hi || !crc64Lo) {
    crc64Hi = new Uint32Array(256);
    crc64Lo = new Uint32Array(256);
    const poly = 0x9a6c9329ac4bc9b5n;
    for (let i = 0; i < 256; i++) {
      let c = BigInt(i);
      for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
      crc64Hi[i] = Number(c >> 32n);
      crc64Lo[i] = Number(c & 0xffffffffn);
    }
  }
  const th = crc64Hi;
  const tl = crc64Lo;
  const start = ~prev & 0xffffffffffffffffn;
  let hi = Number(start >> 32n) >>> 0;
  let lo = Number(start & 0xffffffffn) >>> 0;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ (data[i] as number)) & 0xff;
    const nlo = ((lo >>> 8) | ((hi & 0xff) << 24)) >>> 0;
    const nhi = hi >>> 8;
    lo = (nlo ^ (tl[idx] as number)) >>> 0;
    hi = (nhi ^ (th[idx] as number)) >>> 0;
  }
  return ~((BigInt(hi) << 32n) | BigInt(lo)) & 0xffffffffffffffffn;
}

/** An incremental checksum: feed bytes, then read the base64 value. */
export interface Checksummer {
  update(data: Uint8Array): void;
  digest(): Buffer;
}

export function checksummer(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'CRC32':
    case 'CRC32C': {
      let v = 0;
      const fn = alg === 'CRC32' ? crc32 : crc32c;
      return {
        update: (d) => {
          v = fn(d, v);
        },
        digest: () => {
          const b = Buffer.alloc(4);
          b.writeUInt32BE(v >>> 0);
          return b;
        },
      };
    }
    case 'CRC64NVME': {
      let v = 0n;
      return {
        update: (d) => {
          v = crc64nvme(d, v);
        },
        digest: () => {
          const b = Buffer.alloc(8);
          b.writeBigUInt64BE(v);
          return b;
        },
      };
    }
    case 'SHA1':
    case 'SHA256': {
      const h = createHash(alg === 'SHA1' ? 'sha1' : 'sha256');
      return { update: (d) => void h.update(d), digest: () => h.digest() };
    }
  }
}

export function computeChecksum(alg: ChecksumAlgorithm, data: Uint8Array): string {
  const c = checksummer(alg);
  c.update(data);
  return c.digest().toString('base64');
}
