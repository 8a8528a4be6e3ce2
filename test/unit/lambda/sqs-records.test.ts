import { describe, expect, it } from 'vitest';
import { batchItemFailures, parseQueueArn, toSqsRecord } from '../../../local/lambda/sqs-poller.js';

describe('parseQueueArn', () => {
  it('finds the queue URL on the local endpoint', () => {
    expect(parseQueueArn('http://127.0.0.1:4566', 'arn:aws:sqs:us-east-1:000000000000:jobs.fifo')).toEqual({
      url: 'http://127.0.0.1:4566/000000000000/jobs.fifo',
      region: 'us-east-1',
      name: 'jobs.fifo',
    });
    expect(() => parseQueueArn('http://x', 'arn:aws:sns:us-east-1:000000000000:topic')).toThrow(/not an SQS queue ARN/);
  });
});

describe('toSqsRecord', () => {
  it("builds Lambda's SQS record from a received message", () => {
    const r = toSqsRecord(
      {
        MessageId: 'm-1',
        ReceiptHandle: 'rh-1',
        Body: 'hello',
        MD5OfBody: '5d41402abc4b2a76b9719d911017c592',
        Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000', MessageGroupId: 'g' },
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'greeting' },
          raw: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
        },
      },
      'arn:aws:sqs:us-east-1:000000000000:jobs',
      'us-east-1',
    );
    expect(r).toEqual({
      messageId: 'm-1',
      receiptHandle: 'rh-1',
      body: 'hello',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000', MessageGroupId: 'g' },
      messageAttributes: {
        kind: { stringValue: 'greeting', stringListValues: [], binaryListValues: [], dataType: 'String' },
        raw: { binaryValue: 'AQID', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfBody: '5d41402abc4b2a76b9719d911017c592',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:jobs',
      awsRegion: 'us-east-1',
    });
  });
});

describe('batchItemFailures', () => {
  const batch = new Set(['a', 'b', 'c']);

  it('counts no response, no list and an empty list as complete success', () => {
    expect(batchItemFailures(null, batch)).toEqual([]);
    expect(batchItemFailures({}, batch)).toEqual([]);
    expect(batchItemFailures({ batchItemFailures: null }, batch)).toEqual([]);
    expect(batchItemFailures({ batchItemFailures: [] }, batch)).toEqual([]);
  });

  it('returns the failed message ids', () => {
    expect(batchItemFailures({ batchItemFailures: [{ itemIdentifier: 'b' }, { itemIdentifier: 'c' }] }, batch)).toEqual(
      ['b', 'c'],
    );
  });

  it('counts an invalid response as the whole batch failing', () => {
    expect(batchItemFailures('ok', batch)).toBeUndefined();
    expect(batchItemFailures({ batchItemFailures: 'b' }, batch)).toBeUndefined();
    expect(batchItemFailures({ batchItemFailures: [{ itemIdentifier: '' }] }, batch)).toBeUndefined();
    expect(batchItemFailures({ batchItemFailures: [{ itemIdentifier: null }] }, batch)).toBeUndefined();
    expect(batchItemFailures({ batchItemFailures: [{ id: 'b' }] }, batch)).toBeUndefined();
    expect(batchItemFailures({ batchItemFailures: [{ itemIdentifier: 'z' }] }, batch)).toBeUndefined();
  });
});
