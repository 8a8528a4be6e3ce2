import { describe, expect, it } from 'vitest';
import { SqsError } from '../../../local/sqs/errors.js';
import { formParams, members, queryToInput } from '../../../local/sqs/query.js';
import { escapeXml, xmlError, xmlResponse } from '../../../local/sqs/xml.js';

function params(form: string): Map<string, string> {
  return formParams(new URLSearchParams(form));
}

describe('query-protocol requests', () => {
  it('decodes a SendMessage with message attributes of every type', () => {
    const form =
      'Action=SendMessage&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F000000000000%2Fq&MessageBody=hi+there&DelaySeconds=5' +
      '&MessageAttribute.1.Name=color&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=blue' +
      '&MessageAttribute.2.Name=n&MessageAttribute.2.Value.DataType=Number&MessageAttribute.2.Value.StringValue=7' +
      '&MessageAttribute.3.Name=bin&MessageAttribute.3.Value.DataType=Binary&MessageAttribute.3.Value.BinaryValue=AAEC';

    const input = queryToInput(params(form));

    expect(input).toMatchObject({
      QueueUrl: 'http://127.0.0.1:4566/000000000000/q',
      MessageBody: 'hi there',
      DelaySeconds: '5',
      MessageAttributes: {
        color: { DataType: 'String', StringValue: 'blue' },
        n: { DataType: 'Number', StringValue: '7' },
        bin: { DataType: 'Binary', BinaryValue: 'AAEC' },
      },
    });
  });

  it('decodes queue attributes, attribute names and tags', () => {
    const form =
      'Action=CreateQueue&QueueName=q&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=10' +
      '&Attribute.2.Name=DelaySeconds&Attribute.2.Value=2&Tag.1.Key=team&Tag.1.Value=core&AttributeName.1=All';

    const input = queryToInput(params(form));

    expect(input.Attributes).toEqual({ VisibilityTimeout: '10', DelaySeconds: '2' });
    expect(input.tags).toEqual({ team: 'core' });
    expect(input.AttributeNames).toEqual(['All']);
  });

  it('orders members by index, numerically and across gaps', () => {
    const form = 'AttributeName.10=c&AttributeName.2=b&AttributeName.1=a';

    const list = members(params(form), 'AttributeName').map((m) => m.get(''));

    expect(list).toEqual(['a', 'b', 'c']);
  });

  it('decodes batch entries with their own message attributes', () => {
    const form =
      'Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=one&SendMessageBatchRequestEntry.1.MessageBody=first' +
      '&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String' +
      '&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v' +
      '&SendMessageBatchRequestEntry.2.Id=two&SendMessageBatchRequestEntry.2.MessageBody=second&SendMessageBatchRequestEntry.2.DelaySeconds=3';

    const input = queryToInput(params(form));

    expect(input.Entries).toEqual([
      { Id: 'one', MessageBody: 'first', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
      { Id: 'two', MessageBody: 'second', DelaySeconds: '3' },
    ]);
  });

  it('ignores members whose index is not a number', () => {
    const form = 'Attribute.x.Name=VisibilityTimeout&Attribute.x.Value=1&Attribute..Name=a';

    const input = queryToInput(params(form));

    expect(input.Attributes).toBeUndefined();
  });

  it('keeps user-chosen names such as __proto__ as plain keys', () => {
    const form =
      'MessageAttribute.1.Name=__proto__&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=x';

    const input = queryToInput(params(form));

    expect(Object.keys(input.MessageAttributes as object)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(input.MessageAttributes)).toBe(Object.prototype);
  });
});

describe('query-protocol answers', () => {
  it('escapes markup and keeps carriage returns as references', () => {
    const text = escapeXml(`<a href="x">'&'</a>\r\n`);

    expect(text).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;&#xD;\n');
  });

  it('writes a receive answer with flattened attributes in the SQS namespace', () => {
    const output = {
      Messages: [
        {
          MessageId: 'm1',
          Body: 'a<b',
          Attributes: { SentTimestamp: '1' },
          MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
        },
      ],
    };

    const xml = xmlResponse('ReceiveMessage', output, 'req-1');

    expect(xml).toBe(
      '<?xml version="1.0"?><ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">' +
        '<ReceiveMessageResult><Message><MessageId>m1</MessageId><Body>a&lt;b</Body>' +
        '<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>' +
        '<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute>' +
        '</Message></ReceiveMessageResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ReceiveMessageResponse>',
    );
  });

  it('names batch entries after the action', () => {
    const output = {
      Successful: [{ Id: 'a' }],
      Failed: [{ Id: 'b', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'bad' }],
    };

    const xml = xmlResponse('DeleteMessageBatch', output, 'r');

    expect(xml).toContain('<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>');
    expect(xml).toContain(
      '<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code><Message>bad</Message></BatchResultErrorEntry>',
    );
  });

  it('omits the result element of actions that answer nothing', () => {
    const xml = xmlResponse('DeleteMessage', {}, 'r');

    expect(xml).not.toContain('DeleteMessageResult');
    expect(xml).toContain('<DeleteMessageResponse xmlns=');
  });

  it('writes errors with their query code and fault', () => {
    const err = new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');

    const xml = xmlError(err, 'r');

    expect(xml).toContain(
      '<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message><Detail/></Error>',
    );
    expect(err.status).toBe(400);
  });
});
