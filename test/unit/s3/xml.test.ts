import { describe, expect, it } from 'vitest';
import { child, childrenNamed, childText, el, esc, parseXml, XmlParseError } from '../../../local/s3/xml.js';

describe('xml', () => {
  it('parses what the SDK sends for DeleteObjects', () => {
    const doc = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Object><Key> spaced &amp; &lt;odd&gt; &#x1F600; &#65;</Key></Object><Object><Key>b</Key></Object><Quiet>true</Quiet></Delete>',
    );
    expect(doc.name).toBe('Delete');
    expect(childrenNamed(doc, 'Object').map((o) => childText(o, 'Key'))).toEqual([' spaced & <odd> 😀 A', 'b']);
    expect(childText(doc, 'Quiet')).toBe('true');
  });

  it('drops namespace prefixes and attributes, keeps CDATA and skips comments', () => {
    const doc = parseXml(`<s3:A xmlns:s3="x" a='1>2'><!-- note --><s3:B><![CDATA[<raw>&]]></s3:B><C/></s3:A>`);
    expect(doc.name).toBe('A');
    expect(childText(doc, 'B')).toBe('<raw>&');
    expect(child(doc, 'C')).toEqual({ name: 'C', children: [], text: '' });
  });

  it.each([
    ['a DOCTYPE', '<!DOCTYPE x [<!ENTITY e "boom">]><a>&e;</a>'],
    ['an unknown entity', '<a>&e;</a>'],
    ['a bare ampersand', '<a>x & y</a>'],
    ['mismatched tags', '<a><b></a></b>'],
    ['an unterminated element', '<a><b>'],
    ['two roots', '<a/><b/>'],
    ['text only', 'hello'],
    ['deep nesting', `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`],
  ])('refuses %s', (_what, text) => {
    expect(() => parseXml(text)).toThrow(XmlParseError);
  });

  it('escapes markup and control characters', () => {
    expect(esc(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    expect(esc('a\u0001b\tc')).toBe('a&#x1;b\tc');
    expect(el('Key', 'a&b')).toBe('<Key>a&amp;b</Key>');
    expect(el('Key', undefined)).toBe('');
    expect(parseXml(el('Key', 'x\u0001<y>')).text).toBe('x\u0001<y>');
  });
});
