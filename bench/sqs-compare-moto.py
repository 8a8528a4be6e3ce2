#!/usr/bin/env python3
"""Runs one SQS call sequence through boto3 and prints the answers, normalized.

  python3 bench/sqs-compare-moto.py http://127.0.0.1:4566   # one endpoint: print its answers as JSON
  python3 bench/sqs-compare-moto.py --compare               # moto vs Deputy: print where they differ

--compare starts `python3 -m moto.server` and Deputy's SQS service (local/sqs, through tsx, over a
temporary data directory), each on a free port, runs the sequence against both and lists the steps
whose normalized answers differ. Values that differ by nature (ids, receipt handles, timestamps, the
endpoint, the account) are replaced by placeholders that keep their identity: a duplicate send that
answers the original MessageId still shows the same placeholder.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Normalizer:
    """Replaces volatile values by stable placeholders, numbered in order of first appearance."""

    TIMESTAMPS = {'CreatedTimestamp', 'LastModifiedTimestamp', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp'}

    def __init__(self, endpoint, prefix):
        self.endpoint = endpoint.rstrip('/')
        self.prefix = prefix
        self.seen = {}

    def section(self):
        """Restarts the numbering: sections compare alike even if earlier ones accepted more sends."""
        self.seen = {}

    def placeholder(self, kind, value):
        key = (kind, value)
        if key not in self.seen:
            self.seen[key] = f'<{kind}:{sum(1 for k in self.seen if k[0] == kind) + 1}>'
        return self.seen[key]

    def text(self, s):
        s = s.replace(self.endpoint, '<endpoint>').replace(self.prefix, '<run>')
        s = re.sub(r'ZGVwdXR5[A-Za-z0-9+/=]+', '<handle>', s)  # Deputy's handles quoted in messages
        return re.sub(r'\b(000000000000|123456789012)\b', '<account>', s)

    def __call__(self, value, key=None):
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in sorted(value.items()) if k != 'ResponseMetadata'}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, bytes):
            return {'bytes': list(value)}
        if not isinstance(value, str):
            return value
        if key in ('MessageId', 'ReceiptHandle', 'SequenceNumber', 'SenderId', 'NextToken'):
            return self.placeholder(key, value)
        if key in self.TIMESTAMPS:
            return '<timestamp>' if value.isdigit() else value
        return self.text(value)


def sequence(endpoint):
    """The call sequence; returns [(step, answer)] with answers normalized."""
    prefix = f'cmp{uuid.uuid4().hex[:8]}'
    norm = Normalizer(endpoint, prefix)
    c = boto3.client(
        'sqs',
        endpoint_url=endpoint,
        region_name='us-east-1',
        aws_access_key_id='test',
        aws_secret_access_key='test',
        config=Config(retries={'max_attempts': 1}),
    )
    steps = []

    def call(step, method, **kwargs):
        try:
            out = getattr(c, method)(**kwargs)
            steps.append((step, norm(out)))
            return out
        except ClientError as e:
            err = e.response.get('Error', {})
            steps.append((step, {
                'error': {k: err[k] for k in ('Code', 'QueryErrorCode', 'Type') if k in err},
                'message': norm.text(err.get('Message', '')),
                'status': e.response.get('ResponseMetadata', {}).get('HTTPStatusCode'),
            }))
            return None

    def q(name):
        return f'{prefix}-{name}'

    # Queues
    dlq = call('create dlq', 'create_queue', QueueName=q('dlq'))['QueueUrl']
    dlq_arn = call('dlq arn', 'get_queue_attributes', QueueUrl=dlq, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
    redrive = json.dumps({'deadLetterTargetArn': dlq_arn, 'maxReceiveCount': '2'})
    main = call('create main with redrive', 'create_queue', QueueName=q('main'),
                Attributes={'VisibilityTimeout': '30', 'RedrivePolicy': redrive})['QueueUrl']
    call('create main again, same attributes', 'create_queue', QueueName=q('main'), Attributes={'VisibilityTimeout': '30'})
    call('create main again, other attributes', 'create_queue', QueueName=q('main'), Attributes={'VisibilityTimeout': '31'})
    call('create with a bad name', 'create_queue', QueueName='bad name!')
    # Invalid changes go to queues outside the listed prefix: an emulator that accepts them must not
    # change the answers of the steps after.
    call('create with a bad value', 'create_queue', QueueName=f'x{prefix}-bad', Attributes={'VisibilityTimeout': '99999'})
    scratch = call('create scratch', 'create_queue', QueueName=f'x{prefix}-scratch')['QueueUrl']
    call('get url', 'get_queue_url', QueueName=q('main'))
    call('get url of a missing queue', 'get_queue_url', QueueName=q('missing'))
    call('list by prefix', 'list_queues', QueueNamePrefix=prefix)
    call('list with MaxResults', 'list_queues', QueueNamePrefix=prefix, MaxResults=1)
    call('attributes All', 'get_queue_attributes', QueueUrl=main, AttributeNames=['All'])
    call('attribute unknown', 'get_queue_attributes', QueueUrl=main, AttributeNames=['Bogus'])
    call('set attributes', 'set_queue_attributes', QueueUrl=main, Attributes={'DelaySeconds': '0', 'MaximumMessageSize': '4096'})
    call('set a bad attribute value', 'set_queue_attributes', QueueUrl=scratch, Attributes={'DelaySeconds': '901'})
    call('set a FIFO-only attribute on a standard queue', 'set_queue_attributes', QueueUrl=scratch,
         Attributes={'ContentBasedDeduplication': 'true'})
    call('tag', 'tag_queue', QueueUrl=main, Tags={'team': 'core', 'env': 'dev'})
    call('untag', 'untag_queue', QueueUrl=main, TagKeys=['env'])
    call('list tags', 'list_queue_tags', QueueUrl=main)
    call('dead-letter sources', 'list_dead_letter_source_queues', QueueUrl=dlq)

    # Messages
    attrs = {
        'color': {'DataType': 'String', 'StringValue': 'blue'},
        'n': {'DataType': 'Number', 'StringValue': '42'},
        'b': {'DataType': 'Binary', 'BinaryValue': b'\x00\x01\xff'},
    }
    call('send with attributes', 'send_message', QueueUrl=main, MessageBody='hello', MessageAttributes=attrs,
         MessageSystemAttributes={'AWSTraceHeader': {'DataType': 'String', 'StringValue': 'Root=1-5759e988-bd862e3fe1be46a994272793'}})
    r1 = call('receive 1 (All)', 'receive_message', QueueUrl=main, MessageSystemAttributeNames=['All'],
              MessageAttributeNames=['All'], VisibilityTimeout=0)
    call('receive 2 (prefix filter)', 'receive_message', QueueUrl=main, AttributeNames=['ApproximateReceiveCount'],
         MessageAttributeNames=['co*', 'n'], VisibilityTimeout=30)
    handle = r1['Messages'][0]['ReceiptHandle'] if r1 and r1.get('Messages') else 'none'
    call('change visibility with a stale handle', 'change_message_visibility', QueueUrl=main, ReceiptHandle=handle,
         VisibilityTimeout=0)
    call('change visibility beyond 12h', 'change_message_visibility', QueueUrl=main, ReceiptHandle=handle,
         VisibilityTimeout=43201)
    call('attributes while in flight', 'get_queue_attributes', QueueUrl=main,
         AttributeNames=['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'])
    call('purge main', 'purge_queue', QueueUrl=main)

    call('send for redrive', 'send_message', QueueUrl=main, MessageBody='poison')
    for i in (1, 2, 3):
        call(f'redrive receive {i}', 'receive_message', QueueUrl=main, VisibilityTimeout=0, AttributeNames=['All'])
    dead = call('receive from dlq', 'receive_message', QueueUrl=dlq, AttributeNames=['All'])
    if dead and dead.get('Messages'):
        call('delete from dlq', 'delete_message', QueueUrl=dlq, ReceiptHandle=dead['Messages'][0]['ReceiptHandle'])
    call('delete with a garbage handle', 'delete_message', QueueUrl=dlq, ReceiptHandle='garbage')

    # Batches
    call('send batch with a failing entry', 'send_message_batch', QueueUrl=main, Entries=[
        {'Id': 'a', 'MessageBody': 'one'},
        {'Id': 'b', 'MessageBody': 'two', 'DelaySeconds': 901},
        {'Id': 'c', 'MessageBody': 'three', 'MessageAttributes': {'k': {'DataType': 'String', 'StringValue': 'v'}}},
    ])
    call('send batch, no entries', 'send_message_batch', QueueUrl=main, Entries=[])
    call('send batch, 11 entries', 'send_message_batch', QueueUrl=main,
         Entries=[{'Id': f'e{i}', 'MessageBody': 'x'} for i in range(11)])
    call('send batch, repeated ids', 'send_message_batch', QueueUrl=main,
         Entries=[{'Id': 'x', 'MessageBody': 'a'}, {'Id': 'x', 'MessageBody': 'b'}])
    call('send batch, bad id', 'send_message_batch', QueueUrl=main, Entries=[{'Id': 'no spaces', 'MessageBody': 'a'}])
    got = call('receive batch', 'receive_message', QueueUrl=main, MaxNumberOfMessages=10, MessageAttributeNames=['All'])
    handles = [m['ReceiptHandle'] for m in (got or {}).get('Messages', [])]
    call('change visibility batch', 'change_message_visibility_batch', QueueUrl=main, Entries=[
        *({'Id': f'h{i}', 'ReceiptHandle': h, 'VisibilityTimeout': 60} for i, h in enumerate(handles)),
        {'Id': 'junk', 'ReceiptHandle': 'junk', 'VisibilityTimeout': 0},
    ])
    call('delete batch', 'delete_message_batch', QueueUrl=main, Entries=[
        *({'Id': f'h{i}', 'ReceiptHandle': h} for i, h in enumerate(handles)),
        {'Id': 'junk', 'ReceiptHandle': 'junk'},
    ])

    # Validation
    call('receive 11', 'receive_message', QueueUrl=main, MaxNumberOfMessages=11)
    call('receive wait 21', 'receive_message', QueueUrl=main, WaitTimeSeconds=21)
    call('send to a missing queue', 'send_message', QueueUrl=main.replace('-main', '-nope'), MessageBody='x')
    call('send an empty body', 'send_message', QueueUrl=main, MessageBody='')
    call('send an invalid character', 'send_message', QueueUrl=main, MessageBody='a\x01b')
    call('send a bad number attribute', 'send_message', QueueUrl=main, MessageBody='x',
         MessageAttributes={'n': {'DataType': 'Number', 'StringValue': 'abc'}})
    call('send too large', 'send_message', QueueUrl=main, MessageBody='x' * 5000)
    call('send with a dedup id to a standard queue', 'send_message', QueueUrl=main, MessageBody='x',
         MessageDeduplicationId='d')

    # FIFO
    norm.section()
    fifo = call('create fifo', 'create_queue', QueueName=q('f.fifo'), Attributes={'FifoQueue': 'true'})['QueueUrl']
    call('create .fifo name without FifoQueue', 'create_queue', QueueName=q('g.fifo'))
    call('fifo attributes All', 'get_queue_attributes', QueueUrl=fifo, AttributeNames=['All'])
    call('fifo send without group', 'send_message', QueueUrl=fifo, MessageBody='x', MessageDeduplicationId='x')
    call('fifo send without dedup id', 'send_message', QueueUrl=fifo, MessageBody='x', MessageGroupId='A')
    call('fifo send with a delay', 'send_message', QueueUrl=fifo, MessageBody='x', MessageGroupId='A',
         MessageDeduplicationId='delay', DelaySeconds=5)
    for body, group in (('a1', 'A'), ('a2', 'A'), ('b1', 'B')):
        call(f'fifo send {body}', 'send_message', QueueUrl=fifo, MessageBody=body, MessageGroupId=group,
             MessageDeduplicationId=body)
    call('fifo send duplicate a1', 'send_message', QueueUrl=fifo, MessageBody='a1', MessageGroupId='A',
         MessageDeduplicationId='a1')
    first = call('fifo receive 1', 'receive_message', QueueUrl=fifo, AttributeNames=['All'])
    call('fifo receive 2', 'receive_message', QueueUrl=fifo, AttributeNames=['All'])
    call('fifo receive 3 (groups blocked)', 'receive_message', QueueUrl=fifo)
    if first and first.get('Messages'):
        call('fifo delete head', 'delete_message', QueueUrl=fifo, ReceiptHandle=first['Messages'][0]['ReceiptHandle'])
    call('fifo receive after delete', 'receive_message', QueueUrl=fifo, AttributeNames=['All'])
    call('fifo batch', 'send_message_batch', QueueUrl=fifo, Entries=[
        {'Id': str(i), 'MessageBody': f'm{i}', 'MessageGroupId': 'C', 'MessageDeduplicationId': f'm{i}'} for i in range(3)
    ])
    call('fifo receive batch', 'receive_message', QueueUrl=fifo, MaxNumberOfMessages=10)

    for name, url in (('main', main), ('dlq', dlq), ('fifo', fifo)):
        call(f'delete queue {name}', 'delete_queue', QueueUrl=url)
    call('send to a deleted queue', 'send_message', QueueUrl=main, MessageBody='x')
    return steps


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_up(url, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f'{url} did not come up')


DEPUTY = r"""
import { createServer } from 'node:http';
import { createSqsService } from './local/sqs/index.ts';
const port = Number(process.argv[1]);
const url = `http://127.0.0.1:${port}`;
const sqs = await createSqsService({ endpoint: url, region: 'us-east-1', accountId: '000000000000', dataDir: process.argv[2], log: (l) => console.error(l) });
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const u = new URL(req.url ?? '/', 'http://x');
    const r = { method: req.method, rawUrl: req.url, path: decodeURIComponent(u.pathname), query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
    if (!sqs.matches(r)) { res.writeHead(404).end(); return; }
    const out = await sqs.handle(r);
    res.writeHead(out.status, out.headers ?? {}).end(out.body ?? '');
  });
}).listen(port, '127.0.0.1');
"""


def compare():
    moto_port, deputy_port = free_port(), free_port()
    data = tempfile.mkdtemp(prefix='deputy-sqs-cmp-')
    procs = [
        subprocess.Popen([sys.executable, '-m', 'moto.server', '-p', str(moto_port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(['node', '--import', 'tsx', '--input-type=module', '-e', DEPUTY, str(deputy_port), data],
                         cwd=REPO, stdout=subprocess.DEVNULL),
    ]
    try:
        moto_url, deputy_url = f'http://127.0.0.1:{moto_port}', f'http://127.0.0.1:{deputy_port}'
        wait_up(moto_url)
        wait_up(deputy_url)
        moto, deputy = dict(sequence(moto_url)), dict(sequence(deputy_url))
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    same = 0
    for step in deputy:
        a, b = moto.get(step), deputy[step]
        if a == b:
            same += 1
            continue
        print(f'--- {step}')
        print(f'  moto:   {json.dumps(a, sort_keys=True)}')
        print(f'  deputy: {json.dumps(b, sort_keys=True)}')
    print(f'\n{same} of {len(deputy)} steps answer the same; {len(deputy) - same} differ.')


def main():
    if len(sys.argv) == 2 and sys.argv[1] == '--compare':
        compare()
    elif len(sys.argv) == 2:
        print(json.dumps(sequence(sys.argv[1]), indent=2, sort_keys=True))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == '__main__':
    main()
