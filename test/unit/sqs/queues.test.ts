import { describe, expect, it } from 'vitest';
import { SqsError } from '../../../local/sqs/errors.js';
import {
  applyAttributes,
  checkQueueName,
  FIFO_DEFAULTS,
  nameFromArn,
  nameFromUrl,
  normalizeAttribute,
  parseRedrivePolicy,
  STANDARD_DEFAULTS,
} from '../../../local/sqs/queues.js';

const home = { endpoint: 'http://127.0.0.1:4566', region: 'us-east-1', accountId: '000000000000' };

function failure(run: () => unknown): SqsError {
  try {
    run();
  } catch (e) {
    if (e instanceof SqsError) return e;
    throw e;
  }
  throw new Error('expected an SqsError');
}

describe('queue names', () => {
  it('accepts up to 80 alphanumerics, hyphens and underscores', () => {
    expect(() => checkQueueName('a'.repeat(80), false)).not.toThrow();
    expect(() => checkQueueName('my_queue-1', false)).not.toThrow();
  });

  it('refuses empty, long or punctuated names', () => {
    expect(failure(() => checkQueueName('', false)).code).toBe('InvalidParameterValue');
    expect(failure(() => checkQueueName('a'.repeat(81), false)).code).toBe('InvalidParameterValue');
    expect(failure(() => checkQueueName('a.b', false)).code).toBe('InvalidParameterValue');
  });

  it('requires the .fifo suffix exactly for FIFO queues, within the 80 characters', () => {
    expect(() => checkQueueName('orders.fifo', true)).not.toThrow();
    expect(() => checkQueueName(`${'a'.repeat(75)}.fifo`, true)).not.toThrow();
    expect(failure(() => checkQueueName(`${'a'.repeat(76)}.fifo`, true)).code).toBe('InvalidParameterValue');
    expect(failure(() => checkQueueName('orders', true)).code).toBe('InvalidParameterValue');
    expect(failure(() => checkQueueName('orders.fifo', false)).message).toContain('FifoQueue');
  });
});

describe('queue URLs and ARNs', () => {
  it('reads the queue name from a URL of any host', () => {
    expect(nameFromUrl(home, 'http://127.0.0.1:4566/000000000000/jobs')).toBe('jobs');
    expect(nameFromUrl(home, 'https://sqs.us-east-1.amazonaws.com/000000000000/jobs.fifo')).toBe('jobs.fifo');
    expect(nameFromUrl(home, '/000000000000/jobs')).toBe('jobs');
  });

  it('names no queue for another account or a malformed URL', () => {
    expect(nameFromUrl(home, 'http://127.0.0.1:4566/123456789012/jobs')).toBeUndefined();
    expect(nameFromUrl(home, 'http://[bad')).toBeUndefined();
    expect(nameFromUrl(home, '')).toBeUndefined();
  });

  it('reads the queue name from an ARN of this account and region only', () => {
    expect(nameFromArn(home, 'arn:aws:sqs:us-east-1:000000000000:dlq')).toBe('dlq');
    expect(nameFromArn(home, 'arn:aws:sqs:eu-west-1:000000000000:dlq')).toBeUndefined();
    expect(nameFromArn(home, 'arn:aws:sns:us-east-1:000000000000:dlq')).toBeUndefined();
  });
});

describe('queue attributes', () => {
  it('normalizes integers and booleans', () => {
    expect(normalizeAttribute('VisibilityTimeout', '045', false, true)).toBe('45');
    expect(normalizeAttribute('ContentBasedDeduplication', 'TRUE', true, true)).toBe('true');
  });

  it('refuses integers out of range or not integers', () => {
    expect(failure(() => normalizeAttribute('VisibilityTimeout', '43201', false, true)).code).toBe(
      'InvalidAttributeValue',
    );
    expect(failure(() => normalizeAttribute('DelaySeconds', '1.5', false, true)).code).toBe('InvalidAttributeValue');
    expect(failure(() => normalizeAttribute('MaximumMessageSize', '1023', false, true)).code).toBe(
      'InvalidAttributeValue',
    );
  });

  it('knows FIFO-only attributes only on FIFO queues', () => {
    expect(failure(() => normalizeAttribute('ContentBasedDeduplication', 'true', false, true)).code).toBe(
      'InvalidAttributeName',
    );
    expect(failure(() => normalizeAttribute('Bogus', '1', false, true)).code).toBe('InvalidAttributeName');
  });

  it('does not mistake inherited object keys for attribute names', () => {
    expect(failure(() => normalizeAttribute('__proto__', '1', false, true)).code).toBe('InvalidAttributeName');
    expect(failure(() => normalizeAttribute('toString', '1', false, true)).code).toBe('InvalidAttributeName');
  });

  it('refuses changing the queue type after creation', () => {
    expect(failure(() => normalizeAttribute('FifoQueue', 'true', true, false)).code).toBe('InvalidAttributeValue');
  });

  it('writes the redrive policy canonically, maxReceiveCount as a number', () => {
    const value = normalizeAttribute(
      'RedrivePolicy',
      '{"maxReceiveCount":"3","deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}',
      false,
      true,
    );

    expect(value).toBe('{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}');
  });

  it('refuses redrive policies that are not JSON maps or count out of range', () => {
    expect(failure(() => parseRedrivePolicy('nope')).code).toBe('InvalidParameterValue');
    expect(failure(() => parseRedrivePolicy('{"deadLetterTargetArn":"a","maxReceiveCount":0}')).message).toContain(
      'maxReceiveCount',
    );
    expect(failure(() => parseRedrivePolicy('{"maxReceiveCount":2}')).message).toContain('deadLetterTargetArn');
  });

  it('applies changes over defaults and clears a policy given as empty', () => {
    const withPolicy = applyAttributes(STANDARD_DEFAULTS, [['Policy', '{"Version":"2012-10-17"}']], false, true);

    const cleared = applyAttributes(withPolicy, [['Policy', '']], false, false);

    expect(withPolicy.Policy).toBe('{"Version":"2012-10-17"}');
    expect(cleared.Policy).toBeUndefined();
    expect(cleared.VisibilityTimeout).toBe('30');
  });

  it('allows per-group throughput only with per-group deduplication', () => {
    expect(
      failure(() => applyAttributes(FIFO_DEFAULTS, [['FifoThroughputLimit', 'perMessageGroupId']], true, true)).code,
    ).toBe('InvalidAttributeValue');
    const both = applyAttributes(
      FIFO_DEFAULTS,
      [
        ['DeduplicationScope', 'messageGroup'],
        ['FifoThroughputLimit', 'perMessageGroupId'],
      ],
      true,
      true,
    );
    expect(both.FifoThroughputLimit).toBe('perMessageGroupId');
  });
});
