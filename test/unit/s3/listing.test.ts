import { describe, expect, it } from 'vitest';
import {
  compareUtf8,
  decodeContinuationToken,
  encodeContinuationToken,
  type ListOptions,
  listPage,
  rollUp,
} from '../../../local/s3/listing.js';

type Entry = { key: string };

/** What the store does: entries sorted in UTF-8 order, past `after`, from `prefix` on. */
function page(keys: string[], opts: ListOptions) {
  const sorted = [...keys].sort(compareUtf8);
  const entries = sorted
    .filter((k) => opts.after === undefined || compareUtf8(k, opts.after) > 0)
    .filter((k) => compareUtf8(k, opts.prefix) >= 0)
    .map((key): Entry => ({ key }));
  return listPage(entries, opts);
}

/** Pages through everything, as a client following continuation tokens would. */
function pageAll(keys: string[], prefix: string, delimiter: string, maxKeys: number) {
  const items: string[] = [];
  let after: string | undefined;
  for (let n = 0; n < 10_000; n++) {
    const p = page(keys, { prefix, delimiter, maxKeys, after });
    expect(p.contents.length + p.commonPrefixes.length).toBeLessThanOrEqual(maxKeys);
    items.push(...p.contents.map((e) => e.key), ...p.commonPrefixes);
    // A page lists keys and prefixes in separate elements; together they are in key order.
    if (!p.isTruncated) return items.sort(compareUtf8);
    after = p.last;
  }
  throw new Error('paging did not end');
}

/** The whole listing computed the obvious way: every key with the prefix, rolled up, deduplicated. */
function model(keys: string[], prefix: string, delimiter: string): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue;
    out.add(rollUp(k, prefix, delimiter) ?? k);
  }
  return [...out].sort(compareUtf8);
}

const KEYS = [
  'a.txt',
  'photos/2023/jan/1.jpg',
  'photos/2023/jan/2.jpg',
  'photos/2024/feb/1.jpg',
  'photos/index.html',
  'photos/',
  'videos/a.mp4',
  'videos/b.mp4',
  'z',
  'ü/x',
  '😀/y',
  'ｚ/z',
];

describe('listing pages', () => {
  it('rolls keys up into common prefixes at the first delimiter after the prefix', () => {
    const p = page(KEYS, { prefix: 'photos/', delimiter: '/', maxKeys: 1000 });
    expect(p.contents.map((e) => e.key)).toEqual(['photos/', 'photos/index.html']);
    expect(p.commonPrefixes).toEqual(['photos/2023/', 'photos/2024/']);
    expect(p.isTruncated).toBe(false);
  });

  it('counts keys and common prefixes together against max-keys', () => {
    const p = page(KEYS, { prefix: '', delimiter: '/', maxKeys: 3 });
    expect(p.contents.map((e) => e.key)).toEqual(['a.txt']);
    expect(p.commonPrefixes).toEqual(['photos/', 'videos/']);
    expect(p.isTruncated).toBe(true);
    expect(p.last).toBe('videos/');
  });

  it('is not truncated when the page ends exactly at the last item', () => {
    const p = page(['a', 'b'], { prefix: '', delimiter: '', maxKeys: 2 });
    expect(p.isTruncated).toBe(false);
  });

  it('resumes after a common prefix without repeating it', () => {
    const first = page(KEYS, { prefix: '', delimiter: '/', maxKeys: 2 });
    expect(first.commonPrefixes).toEqual(['photos/']);
    const second = page(KEYS, { prefix: '', delimiter: '/', maxKeys: 2, after: first.last });
    expect(second.commonPrefixes).toEqual(['videos/']);
    expect(second.contents.map((e) => e.key)).toEqual(['z']);
  });

  it('returns every item exactly once across pages, for every page size', () => {
    const keys = [...KEYS, ...Array.from({ length: 40 }, (_, i) => `d${i % 3}/${i % 5}/k${i}`)];
    for (const [prefix, delimiter] of [
      ['', ''],
      ['', '/'],
      ['photos/', '/'],
      ['d1/', '/'],
      ['d', '/'],
      ['', '2'],
    ] as const) {
      const expected = model(keys, prefix, delimiter);
      for (const maxKeys of [1, 2, 3, 7, 1000]) {
        expect(pageAll(keys, prefix, delimiter, maxKeys), `${prefix}|${delimiter}|${maxKeys}`).toEqual(expected);
      }
    }
  });

  it('stops at the first key past the prefix', () => {
    let read = 0;
    const entries = (function* () {
      for (const key of ['p/1', 'p/2', 'q/1', 'q/2', 'q/3']) {
        read++;
        yield { key };
      }
    })();
    const p = listPage(entries, { prefix: 'p/', delimiter: '', maxKeys: 1000 });
    expect(p.contents.map((e) => e.key)).toEqual(['p/1', 'p/2']);
    expect(read).toBe(3);
  });

  it('returns nothing for max-keys 0', () => {
    const p = page(KEYS, { prefix: '', delimiter: '', maxKeys: 0 });
    expect(p).toEqual({ contents: [], commonPrefixes: [], isTruncated: false, last: undefined });
  });

  it('orders keys by UTF-8 bytes, as S3 does, not by UTF-16 units', () => {
    // U+FF5A sorts before U+1F600 in UTF-16 (0xFF5A < 0xD83D is false) but after it... in bytes: EF < F0.
    expect(compareUtf8('ｚ', '😀')).toBeLessThan(0);
    expect('ｚ' < '😀').toBe(false);
    expect(page(KEYS, { prefix: '', delimiter: '/', maxKeys: 1000 }).commonPrefixes.slice(-3)).toEqual([
      'ü/',
      'ｚ/',
      '😀/',
    ]);
  });

  it('round-trips continuation tokens and refuses foreign ones', () => {
    for (const last of ['a', 'photos/', 'ü 😀/x+y']) {
      expect(decodeContinuationToken(encodeContinuationToken(last))).toBe(last);
    }
    expect(decodeContinuationToken('not a token')).toBeUndefined();
    expect(decodeContinuationToken(Buffer.from('other:x').toString('base64'))).toBeUndefined();
  });
});
