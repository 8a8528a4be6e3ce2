import { createHash } from 'node:crypto';
import type { LocalRequest } from '../service.js';
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumHeader,
  computeChecksum,
  isWellFormedChecksum,
  parseChecksumAlgorithm,
} from './checksums.js';
import { ChunkedDecodeError, decodeAwsChunked } from './chunked.js';
import { invalidRequest, malformedXml, S3Error } from './errors.js';
import { parseXml, type XmlElement, XmlParseError } from './xml.js';

/**
 * The bytes a request really carries, checked the way S3 checks them: aws-chunked bodies decoded
 * (signed or unsigned, with or without trailers), and every integrity claim the client made verified
 * (x-amz-decoded-content-length, x-amz-content-sha256, Content-MD5, one x-amz-checksum-*).
 */

export interface Payload {
  data: Buffer;
  /** The flexible checksum the client sent (header or trailer), verified. */
  checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined;
  /** Content-Encoding without the transport's `aws-chunked`, or undefined when nothing is left. */
  contentEncoding: string | undefined;
}

function isChunked(req: LocalRequest): boolean {
  const sha = req.headers['x-amz-content-sha256'] ?? '';
  const enc = (req.headers['content-encoding'] ?? '').toLowerCase();
  return sha.startsWith('STREAMING-') || enc.split(',').some((t) => t.trim() === 'aws-chunked');
}

function remainingEncoding(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const rest = header
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && t.toLowerCase() !== 'aws-chunked');
  return rest.length === 0 ? undefined : rest.join(', ');
}

export function readPayload(req: LocalRequest): Payload {
  let data = req.body;
  let trailers: Record<string, string> = {};
  const chunked = isChunked(req);
  if (chunked) {
    try {
      ({ data, trailers } = decodeAwsChunked(req.body));
    } catch (e) {
      if (e instanceof ChunkedDecodeError) {
        throw new S3Error('IncompleteBody', `The request body is not valid aws-chunked encoding: ${e.message}`, 400);
      }
      throw e;
    }
    const declared = req.headers['x-amz-decoded-content-length'];
    if (declared !== undefined && Number(declared) !== data.length) {
      throw new S3Error(
        'IncompleteBody',
        'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header.',
        400,
      );
    }
    const announced = (req.headers['x-amz-trailer'] ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== '');
    for (const name of announced) {
      if (trailers[name] === undefined) {
        throw new S3Error(
          'MalformedTrailerError',
          `The request contained trailing data that was not well-formed: ${name} is missing.`,
          400,
        );
      }
    }
  } else {
    const sha = req.headers['x-amz-content-sha256'];
    if (sha !== undefined && /^[0-9a-f]{64}$/i.test(sha)) {
      const actual = createHash('sha256').update(data).digest('hex');
      if (actual !== sha.toLowerCase()) {
        throw new S3Error(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          400,
          [
            ['ClientComputedContentSHA256', sha],
            ['S3ComputedContentSHA256', actual],
          ],
        );
      }
    }
  }

  const md5 = req.headers['content-md5'];
  if (md5 !== undefined) {
    const raw = Buffer.from(md5, 'base64');
    if (raw.length !== 16 || raw.toString('base64') !== md5.trim()) {
      throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', 400, [['Content-MD5', md5]]);
    }
    if (!createHash('md5').update(data).digest().equals(raw)) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400, [
        ['ExpectedDigest', md5],
        ['CalculatedDigest', createHash('md5').update(data).digest('base64')],
      ]);
    }
  }

  const claims: { algorithm: ChecksumAlgorithm; value: string }[] = [];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = checksumHeader(algorithm);
    const value = trailers[name] ?? req.headers[name];
    if (value !== undefined) claims.push({ algorithm, value: value.trim() });
  }
  if (claims.length > 1) {
    throw invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  const claim = claims[0];
  const sdkAlgorithm = req.headers['x-amz-sdk-checksum-algorithm'];
  if (sdkAlgorithm !== undefined) {
    const alg = parseChecksumAlgorithm(sdkAlgorithm);
    if (alg === undefined) throw invalidRequest(`Checksum algorithm '${sdkAlgorithm}' is not supported.`);
    if (!claim) {
      throw invalidRequest(
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      );
    }
    if (claim.algorithm !== alg) {
      throw invalidRequest(
        `Value for x-amz-sdk-checksum-algorithm header is invalid: it names ${alg} but ${checksumHeader(claim.algorithm)} was sent.`,
      );
    }
  }
  if (claim) {
    if (!isWellFormedChecksum(claim.algorithm, claim.value)) {
      throw invalidRequest(`Value for ${checksumHeader(claim.algorithm)} header is invalid.`);
    }
    if (computeChecksum(claim.algorithm, data) !== claim.value) {
      throw new S3Error(
        'BadDigest',
        `The ${claim.algorithm} you specified did not match the calculated checksum.`,
        400,
      );
    }
  }
  return { data, checksum: claim, contentEncoding: remainingEncoding(req.headers['content-encoding']) };
}

/** A request's XML document; undefined for an empty body, MalformedXML for one that does not parse. */
export function parseXmlBody(data: Buffer): XmlElement | undefined {
  const text = data.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return parseXml(text);
  } catch (e) {
    if (e instanceof XmlParseError) throw malformedXml();
    throw e;
  }
}
