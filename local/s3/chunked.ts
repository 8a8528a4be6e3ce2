/**
 * The `aws-chunked` content encoding of streaming uploads (SigV4 streaming and the SDKs' trailing
 * checksums):
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n   ...repeated...
 *   0[;chunk-signature=<sig>]\r\n
 *   <trailer-name>:<value>\r\n ...   (optional, e.g. x-amz-checksum-crc32, x-amz-trailer-signature)
 *   \r\n
 *
 * The decoder is incremental, so a chunk header, a chunk or a trailer may be split anywhere across
 * pushes. It never trusts a size beyond what arrives: a short body is an error, not a hang or a pad.
 */

export class ChunkedDecodeError extends Error {}

export interface DecodedChunked {
  data: Buffer;
  /** Trailer headers, names lower-cased. */
  trailers: Record<string, string>;
  /** The chunk-signature of each chunk (final zero chunk included), when the upload was signed. */
  signatures: string[];
}

/** Longest chunk header or trailer line accepted; real ones are under 200 bytes. */
const MAX_LINE = 4096;
/** S3's single-PUT limit; a larger chunk size is garbage. */
const MAX_CHUNK = 5 * 1024 ** 3;

type State = 'header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

export class AwsChunkedDecoder {
  private state: State = 'header';
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private readonly parts: Buffer[] = [];
  private size = 0;
  private readonly trailers: Record<string, string> = {};
  private readonly signatures: string[] = [];

  push(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'header':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl < 0 ? buf.length : nl;
          this.lineLength += end - i;
          if (this.lineLength > MAX_LINE) throw new ChunkedDecodeError('aws-chunked line too long');
          this.line.push(buf.subarray(i, end));
          i = end;
          if (nl < 0) break;
          i = nl + 1;
          const text = Buffer.concat(this.line).toString('latin1');
          this.line = [];
          this.lineLength = 0;
          if (!text.endsWith('\r')) throw new ChunkedDecodeError('aws-chunked line not ended by CRLF');
          this.onLine(text.slice(0, -1));
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, buf.length - i);
          this.parts.push(buf.subarray(i, i + take));
          this.size += take;
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = 'data-cr';
          break;
        }
        case 'data-cr':
          if (buf[i] !== 0x0d) throw new ChunkedDecodeError('aws-chunked chunk not followed by CRLF');
          i++;
          this.state = 'data-lf';
          break;
        case 'data-lf':
          if (buf[i] !== 0x0a) throw new ChunkedDecodeError('aws-chunked chunk not followed by CRLF');
          i++;
          this.state = 'header';
          break;
        case 'done':
          // Only line ends may follow the blank line that ends the trailers.
          for (; i < buf.length; i++) {
            if (buf[i] !== 0x0d && buf[i] !== 0x0a) throw new ChunkedDecodeError('data after the aws-chunked end');
          }
          break;
      }
    }
  }

  private onLine(text: string): void {
    if (this.state === 'header') {
      const [sizeText = '', ...extensions] = text.split(';');
      if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText.trim())) {
        throw new ChunkedDecodeError(`bad aws-chunked chunk size '${sizeText.slice(0, 32)}'`);
      }
      const size = Number.parseInt(sizeText.trim(), 16);
      if (size > MAX_CHUNK) throw new ChunkedDecodeError('aws-chunked chunk too large');
      for (const ext of extensions) {
        const eq = ext.indexOf('=');
        if (eq > 0 && ext.slice(0, eq).trim() === 'chunk-signature') this.signatures.push(ext.slice(eq + 1).trim());
      }
      if (size === 0) this.state = 'trailer';
      else {
        this.remaining = size;
        this.state = 'data';
      }
      return;
    }
    // A trailer line, or the blank line that ends them.
    if (text === '') {
      this.state = 'done';
      return;
    }
    this.addTrailer(text);
  }

  private addTrailer(text: string): void {
    const colon = text.indexOf(':');
    if (colon <= 0) throw new ChunkedDecodeError('malformed aws-chunked trailer');
    this.trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }

  /** Finishes decoding; the body must have reached the final zero-size chunk. */
  end(): DecodedChunked {
    if (this.state === 'trailer') {
      // Some writers end the last trailer line (or the zero chunk) without the final blank line.
      const rest = Buffer.concat(this.line).toString('latin1').replace(/\r$/, '');
      if (rest !== '') this.addTrailer(rest);
      this.line = [];
      this.state = 'done';
    }
    if (this.state !== 'done') throw new ChunkedDecodeError('aws-chunked body ended before its final chunk');
    return {
      data: this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size),
      trailers: this.trailers,
      signatures: this.signatures,
    };
  }
}

export function decodeAwsChunked(body: Buffer): DecodedChunked {
  const d = new AwsChunkedDecoder();
  d.push(body);
  return d.end();
}
