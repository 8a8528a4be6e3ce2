import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type MessageAttribute, md5Hex, md5OfAttributes } from '../../../local/sqs/md5.js';

/**
 * The documented algorithm, written out independently: for each attribute in name order, the
 * length-prefixed name, the length-prefixed type, a transport byte (1 text, 2 binary) and the
 * length-prefixed value.
 */
function reference(attributes: MessageAttribute[]): string {
  const hash = createHash('md5');
  const withLength = (b: Buffer) => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length, 0);
    hash.update(n);
    hash.update(b);
  };
  for (const a of [...attributes].sort((x, y) => (x.name < y.name ? -1 : 1))) {
    withLength(Buffer.from(a.name));
    withLength(Buffer.from(a.dataType));
    hash.update(Buffer.from([a.binaryValue ? 2 : 1]));
    withLength(a.binaryValue ?? Buffer.from(a.stringValue ?? ''));
  }
  return hash.digest('hex');
}

const mixed: MessageAttribute[] = [
  { name: 'name', dataType: 'String', stringValue: 'héllo wörld ✓' },
  { name: 'count', dataType: 'Number', stringValue: '42' },
  { name: 'blob', dataType: 'Binary', binaryValue: Buffer.from([0, 1, 2, 254, 255]) },
];

describe('MD5 of message attributes', () => {
  // Expected values were computed with moto's implementation (moto.sqs.models.Message.attribute_md5),
  // which boto3 users test against; they are independent of this code.
  it('matches known digests of a single string attribute', () => {
    const attrs = [{ name: 'attr1', dataType: 'String', stringValue: 'value1' }];

    const digest = md5OfAttributes(attrs);

    expect(digest).toBe('3bc3f392bdd1097ba0b434f65d468d2e');
  });

  it('matches known digests of String, Number and Binary attributes together', () => {
    const digest = md5OfAttributes(mixed);

    expect(digest).toBe('8975cddf7794ac4da108d38711dc9ae5');
    expect(digest).toBe(reference(mixed));
  });

  it('hashes custom type labels as part of the data type', () => {
    const attrs = [
      { name: 'b.custom', dataType: 'Number.int', stringValue: '-1.5e3' },
      { name: 'a', dataType: 'String.json', stringValue: '{"k":1}' },
    ];

    const digest = md5OfAttributes(attrs);

    expect(digest).toBe('eb66763db0b90eb201abd7f58a75cbd9');
  });

  it('sorts names by code unit, upper case before lower case, as AWS does', () => {
    const attrs = [
      { name: 'a', dataType: 'String', stringValue: '1' },
      { name: 'B', dataType: 'String', stringValue: '2' },
    ];

    const digest = md5OfAttributes(attrs);

    expect(digest).toBe('f0640bd53eebb5a843723309a482d865');
  });

  it('does not depend on the order the attributes were given in', () => {
    const reversed = [...mixed].reverse();

    const digest = md5OfAttributes(reversed);

    expect(digest).toBe(md5OfAttributes(mixed));
  });

  it('digests the AWSTraceHeader system attribute the same way', () => {
    const trace = [
      { name: 'AWSTraceHeader', dataType: 'String', stringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' },
    ];

    const digest = md5OfAttributes(trace);

    expect(digest).toBe('5f48eef650c1d0207456969c85af2fdd');
  });

  it('digests bodies as UTF-8', () => {
    const digest = md5Hex('héllo');

    expect(digest).toBe('be50e8478cf24ff3595bc7307fb91b50');
  });
});
