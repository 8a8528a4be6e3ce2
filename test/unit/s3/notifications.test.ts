import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../local/s3/errors.js';
import {
  eventRecord,
  eventSelected,
  keySelected,
  matchingRules,
  type NotificationConfig,
  notificationConfigXml,
  parseNotificationConfig,
  testEvent,
} from '../../../local/s3/notifications.js';
import { parseXml } from '../../../local/s3/xml.js';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:uploads';
const FN = 'arn:aws:lambda:us-east-1:000000000000:function:thumbnail';

function parse(inner: string): NotificationConfig {
  return parseNotificationConfig(
    parseXml(
      `<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</NotificationConfiguration>`,
    ),
  );
}

function rejection(inner: string): string {
  try {
    parse(inner);
  } catch (e) {
    if (e instanceof S3Error) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'accepted';
}

const filter = (prefix?: string, suffix?: string) =>
  `<Filter><S3Key>${prefix === undefined ? '' : `<FilterRule><Name>prefix</Name><Value>${prefix}</Value></FilterRule>`}${
    suffix === undefined ? '' : `<FilterRule><Name>Suffix</Name><Value>${suffix}</Value></FilterRule>`
  }</S3Key></Filter>`;

describe('notification configuration', () => {
  it('parses queue and function configurations with filters', () => {
    const cfg = parse(
      `<QueueConfiguration><Id>q1</Id><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event>${filter('in/', '.csv')}</QueueConfiguration>` +
        `<CloudFunctionConfiguration><Id>f1</Id><CloudFunction>${FN}</CloudFunction><Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration>`,
    );
    expect(cfg.rules).toEqual([
      {
        id: 'q1',
        kind: 'queue',
        arn: QUEUE,
        events: ['s3:ObjectCreated:*'],
        filter: [
          { name: 'Prefix', value: 'in/' },
          { name: 'Suffix', value: '.csv' },
        ],
      },
      { id: 'f1', kind: 'function', arn: FN, events: ['s3:ObjectRemoved:*'], filter: [] },
    ]);
  });

  it('accepts the LambdaFunctionConfiguration spelling and names rules without an Id', () => {
    const cfg = parse(
      `<LambdaFunctionConfiguration><LambdaFunctionArn>${FN}</LambdaFunctionArn><Event>s3:ObjectCreated:Put</Event></LambdaFunctionConfiguration>`,
    );
    expect(cfg.rules[0]?.kind).toBe('function');
    expect(cfg.rules[0]?.id).toMatch(/^[A-Za-z0-9+/]{20,}$/);
  });

  it('writes back what it parsed', () => {
    const cfg = parse(
      `<QueueConfiguration><Id>q1</Id><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:Put</Event><Event>s3:ObjectCreated:Copy</Event>${filter('a&amp;b/')}</QueueConfiguration>` +
        `<CloudFunctionConfiguration><Id>f1</Id><CloudFunction>${FN}</CloudFunction><Event>s3:ObjectRemoved:Delete</Event></CloudFunctionConfiguration>`,
    );
    expect(cfg.rules[0]?.filter).toEqual([{ name: 'Prefix', value: 'a&b/' }]);
    expect(parseNotificationConfig(parseXml(notificationConfigXml(cfg)))).toEqual(cfg);
    expect(notificationConfigXml(undefined)).toContain('<NotificationConfiguration xmlns=');
  });

  it.each([
    [
      'an unknown event',
      `<QueueConfiguration><Queue>${QUEUE}</Queue><Event>s3:ObjectMoved</Event></QueueConfiguration>`,
      /InvalidArgument: The event is not supported/,
    ],
    ['a rule with no event', `<QueueConfiguration><Queue>${QUEUE}</Queue></QueueConfiguration>`, /MalformedXML/],
    [
      'a rule with no destination',
      '<QueueConfiguration><Event>s3:ObjectCreated:*</Event></QueueConfiguration>',
      /MalformedXML/,
    ],
    [
      'a malformed ARN',
      '<QueueConfiguration><Queue>uploads</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>',
      /InvalidArgument: Unable to validate/,
    ],
    [
      'a filter rule that is neither prefix nor suffix',
      `<QueueConfiguration><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>x</Value></FilterRule></S3Key></Filter></QueueConfiguration>`,
      /InvalidArgument: filter rule name/,
    ],
    [
      'two prefix rules',
      `<QueueConfiguration><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>prefix</Name><Value>b</Value></FilterRule></S3Key></Filter></QueueConfiguration>`,
      /more than one prefix/,
    ],
    [
      'overlapping rules for the same event',
      `<QueueConfiguration><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event>${filter('img/')}</QueueConfiguration>` +
        `<CloudFunctionConfiguration><CloudFunction>${FN}</CloudFunction><Event>s3:ObjectCreated:Put</Event>${filter('img/raw/')}</CloudFunctionConfiguration>`,
      /Configurations overlap/,
    ],
  ])('refuses %s', (_what, inner, message) => {
    expect(rejection(inner)).toMatch(message);
  });

  it('allows rules for the same event whose filters cannot both match', () => {
    const inner =
      `<QueueConfiguration><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event>${filter('img/')}</QueueConfiguration>` +
      `<CloudFunctionConfiguration><CloudFunction>${FN}</CloudFunction><Event>s3:ObjectCreated:*</Event>${filter('doc/')}</CloudFunctionConfiguration>` +
      `<QueueConfiguration><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event>${filter(undefined, '.jpg')}</QueueConfiguration>`;
    // The third (suffix .jpg, any prefix) overlaps the first (prefix img/, any suffix): img/x.jpg.
    expect(rejection(inner)).toMatch(/overlap/);
    expect(rejection(inner.slice(0, inner.lastIndexOf('<QueueConfiguration>')))).toBe('accepted');
  });
});

describe('notification matching', () => {
  it('selects events by exact name or family wildcard', () => {
    expect(eventSelected('s3:ObjectCreated:*', 'ObjectCreated:Put')).toBe(true);
    expect(eventSelected('s3:ObjectCreated:*', 'ObjectCreated:CompleteMultipartUpload')).toBe(true);
    expect(eventSelected('s3:ObjectCreated:Put', 'ObjectCreated:Put')).toBe(true);
    expect(eventSelected('s3:ObjectCreated:Put', 'ObjectCreated:Copy')).toBe(false);
    expect(eventSelected('s3:ObjectCreated:*', 'ObjectRemoved:Delete')).toBe(false);
    expect(eventSelected('s3:ObjectRemoved:*', 'ObjectRemoved:Delete')).toBe(true);
  });

  it('filters keys by prefix and suffix on the key itself', () => {
    const rules = [
      { name: 'Prefix' as const, value: 'in coming/' },
      { name: 'Suffix' as const, value: '.csv' },
    ];
    expect(keySelected(rules, 'in coming/a.csv')).toBe(true);
    expect(keySelected(rules, 'in coming/a.json')).toBe(false);
    expect(keySelected(rules, 'out/a.csv')).toBe(false);
    expect(keySelected([], 'anything')).toBe(true);
  });

  it('returns every rule an event triggers', () => {
    const cfg = parse(
      `<QueueConfiguration><Id>csv</Id><Queue>${QUEUE}</Queue><Event>s3:ObjectCreated:*</Event>${filter(undefined, '.csv')}</QueueConfiguration>` +
        `<CloudFunctionConfiguration><Id>all-removed</Id><CloudFunction>${FN}</CloudFunction><Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration>`,
    );
    expect(matchingRules(cfg, 'ObjectCreated:Put', 'x.csv').map((r) => r.id)).toEqual(['csv']);
    expect(matchingRules(cfg, 'ObjectCreated:Put', 'x.txt')).toEqual([]);
    expect(matchingRules(cfg, 'ObjectRemoved:Delete', 'x.txt').map((r) => r.id)).toEqual(['all-removed']);
    expect(matchingRules(undefined, 'ObjectCreated:Put', 'x.csv')).toEqual([]);
  });
});

describe('event records', () => {
  const facts = {
    eventName: 'ObjectCreated:Put',
    region: 'us-east-1',
    time: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    bucket: 'photos',
    key: 'my pics/ü+1.jpg',
    size: 1024,
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    sequencer: '000000000000002A',
    principalId: 'AWS:test',
    ownerPrincipalId: '000000000000',
    sourceIp: '127.0.0.1',
    requestId: 'C3D13FE58DE4C810',
    hostId: 'host-id',
  };

  it('has the shape of an S3 event of version 2.1', () => {
    expect(eventRecord(facts, 'cfg-1')).toEqual({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2024-01-02T03:04:05.678Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:test' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'host-id' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'cfg-1',
        bucket: { name: 'photos', ownerIdentity: { principalId: '000000000000' }, arn: 'arn:aws:s3:::photos' },
        object: {
          key: 'my+pics/%C3%BC%2B1.jpg',
          size: 1024,
          eTag: 'd41d8cd98f00b204e9800998ecf8427e',
          sequencer: '000000000000002A',
        },
      },
    });
  });

  it('URL-encodes the key so that the usual decoding gives it back', () => {
    for (const key of ['a b/c+d.txt', '../x?y#z&=%', 'ü/😀', "it's (1).txt"]) {
      const encoded = eventRecord({ ...facts, key }, 'c').s3.object.key;
      expect(encoded).not.toMatch(/[ ?#&]/);
      expect(decodeURIComponent(encoded.replace(/\+/g, ' '))).toBe(key);
    }
  });

  it('leaves size and eTag out of a removal', () => {
    const { size: _s, etag: _e, ...removal } = facts;
    const r = eventRecord({ ...removal, eventName: 'ObjectRemoved:Delete' }, 'c');
    expect(r.s3.object).toEqual({ key: 'my+pics/%C3%BC%2B1.jpg', sequencer: '000000000000002A' });
    expect(r.eventName).toBe('ObjectRemoved:Delete');
  });

  it('builds the test event S3 sends to a new queue destination', () => {
    expect(testEvent('photos', Date.UTC(2024, 0, 1), 'RID', 'HID')).toEqual({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2024-01-01T00:00:00.000Z',
      Bucket: 'photos',
      RequestId: 'RID',
      HostId: 'HID',
    });
  });
});
