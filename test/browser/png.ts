import { deflateSync, inflateSync } from 'node:zlib';

/**
 * Just enough PNG for screenshot checks, on node:zlib alone: decode 8-bit, non-interlaced greyscale,
 * RGB and RGBA images (what Chromium writes) to RGBA, compare two images pixel by pixel, and encode an
 * RGBA image (for the diff written when a comparison fails).
 */
export interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row by row. */
  data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(png: Uint8Array): Image {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const body = buf.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      channels = CHANNELS[colour ?? -1] ?? 0;
      if (depth !== 8 || channels === 0 || interlace !== 0) {
        throw new Error(`unsupported PNG: bit depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      }
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('truncated PNG data');
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const value = raw[src + x] ?? 0;
      const a = x >= channels ? (rows[row + x - channels] ?? 0) : 0;
      const b = y > 0 ? (rows[prev + x] ?? 0) : 0;
      const c = y > 0 && x >= channels ? (rows[prev + x - channels] ?? 0) : 0;
      let out: number;
      switch (filter) {
        case 0:
          out = value;
          break;
        case 1:
          out = value + a;
          break;
        case 2:
          out = value + b;
          break;
        case 3:
          out = value + ((a + b) >> 1);
          break;
        case 4:
          out = value + paeth(a, b, c);
          break;
        default:
          throw new Error(`bad PNG filter ${filter} on row ${y}`);
      }
      rows[row + x] = out & 0xff;
    }
  }
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    const grey = channels <= 2;
    data[i * 4] = rows[j] ?? 0;
    data[i * 4 + 1] = rows[grey ? j : j + 1] ?? 0;
    data[i * 4 + 2] = rows[grey ? j : j + 2] ?? 0;
    data[i * 4 + 3] = channels === 4 ? (rows[j + 3] ?? 255) : channels === 2 ? (rows[j + 1] ?? 255) : 255;
  }
  return { width, height, data };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

export function encodePng(image: Image): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(image.width, 0);
  ihdr.writeUInt32BE(image.height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const stride = image.width * 4;
  const raw = Buffer.alloc(image.height * (stride + 1));
  for (let y = 0; y < image.height; y++)
    raw.set(image.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface Comparison {
  /** Pixels whose largest channel difference exceeds the threshold. */
  differing: number;
  total: number;
  /** The actual image, greyed, with differing pixels in red. */
  diff: Image;
}

/**
 * Compares two images of the same size pixel by pixel: a pixel differs when any channel differs by
 * more than `threshold` (0-255), which absorbs anti-aliasing noise but not a changed glyph.
 */
export function compareImages(expected: Image, actual: Image, threshold: number): Comparison {
  if (expected.width !== actual.width || expected.height !== actual.height) {
    throw new Error(
      `size differs: expected ${expected.width}x${expected.height}, got ${actual.width}x${actual.height}`,
    );
  }
  const total = actual.width * actual.height;
  const diff = new Uint8Array(total * 4);
  let differing = 0;
  for (let i = 0; i < total * 4; i += 4) {
    let worst = 0;
    for (let c = 0; c < 4; c++)
      worst = Math.max(worst, Math.abs((expected.data[i + c] ?? 0) - (actual.data[i + c] ?? 0)));
    if (worst > threshold) {
      differing++;
      diff.set([255, 0, 0, 255], i);
    } else {
      const grey = ((actual.data[i] ?? 0) + (actual.data[i + 1] ?? 0) + (actual.data[i + 2] ?? 0)) / 3;
      const faded = Math.round(200 + grey / 5);
      diff.set([faded, faded, faded, 255], i);
    }
  }
  return { differing, total, diff: { width: actual.width, height: actual.height, data: diff } };
}
