#!/usr/bin/env python3
"""Runs one S3 call sequence with boto3 and prints the responses, normalized; or compares two endpoints.

  python3 bench/s3-compare-moto.py run http://127.0.0.1:4566
      the sequence against one endpoint, one normalized JSON line per step

  python3 bench/s3-compare-moto.py compare [--deputy http://127.0.0.1:4566] [--ignore Field,Field]
      the sequence against Deputy (started here on a free port unless --deputy names one) and against
      moto (`python3 -m moto.server`, started here), then every step where the two answered differently;
      --ignore leaves top-level response fields out of the comparison (e.g. ServerSideEncryption,
      which S3 sends on every object response since 2023 and moto does not)

Normalized means: request ids, dates, owner ids and continuation tokens replaced by placeholders; bodies
as text (or length and MD5 when binary); only what a client would look at (status, error code, the
parsed response fields). ETags are content hashes, so they are compared as they are.
"""

import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BUCKET = 'deputy-compare'
OTHER = 'deputy-compare-other'
MIB = 1024 * 1024


def client(endpoint):
    return boto3.client(
        's3',
        endpoint_url=endpoint,
        region_name='us-east-1',
        aws_access_key_id='test',
        aws_secret_access_key='test',
        config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}),
    )


def normalize(value, key=''):
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in sorted(value.items()) if k != 'ResponseMetadata'}
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    if isinstance(value, datetime.datetime):
        return '<date>'
    if hasattr(value, 'read'):
        data = value.read()
        try:
            text = data.decode('utf-8')
            return text if len(text) <= 200 else f'<{len(data)} bytes md5 {hashlib.md5(data).hexdigest()}>'
        except UnicodeDecodeError:
            return f'<{len(data)} bytes md5 {hashlib.md5(data).hexdigest()}>'
    if key in ('ID', 'DisplayName', 'RequestId', 'HostId', 'UploadId'):
        return f'<{key}>'
    if key in ('ContinuationToken', 'NextContinuationToken') and value:
        return '<token>'
    return value


def sequence(s3):
    """Yields (step name, normalized outcome)."""
    state = {}

    def call(name, fn):
        try:
            r = fn()
            out = {'status': r['ResponseMetadata']['HTTPStatusCode'], **normalize(r)}
        except ClientError as e:
            err = e.response.get('Error', {})
            out = {'status': e.response['ResponseMetadata']['HTTPStatusCode'], 'error': err.get('Code')}
        return name, out

    yield call('create bucket', lambda: s3.create_bucket(Bucket=BUCKET))
    yield call('create the same bucket again (us-east-1)', lambda: s3.create_bucket(Bucket=BUCKET))
    yield call('create bucket with an invalid name', lambda: s3.create_bucket(Bucket='Upper-Case-Name'))
    yield call(
        'create bucket with LocationConstraint us-east-1',
        lambda: s3.create_bucket(Bucket=OTHER, CreateBucketConfiguration={'LocationConstraint': 'us-east-1'}),
    )
    yield call('head bucket', lambda: s3.head_bucket(Bucket=BUCKET))
    yield call('head missing bucket', lambda: s3.head_bucket(Bucket='no-such-bucket-here'))
    yield call('get bucket location', lambda: s3.get_bucket_location(Bucket=BUCKET))

    put = s3.put_object(
        Bucket=BUCKET,
        Key='docs/hello.txt',
        Body=b'hello world',
        ContentType='text/plain',
        CacheControl='max-age=60',
        Metadata={'Owner': 'ops', 'kind': 'greeting'},
    )
    state['etag'] = put['ETag']
    yield 'put object with metadata', {'status': 200, **normalize(put)}
    yield call('get object', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt'))
    yield call('get object, checksum mode', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', ChecksumMode='ENABLED'))
    yield call('head object', lambda: s3.head_object(Bucket=BUCKET, Key='docs/hello.txt'))
    yield call('get range 0-4', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', Range='bytes=0-4'))
    yield call('get suffix range -5', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', Range='bytes=-5'))
    yield call('get open range 6-', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', Range='bytes=6-'))
    yield call('get range past the end', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', Range='bytes=100-'))
    yield call('get range beyond the end (clamped)', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', Range='bytes=6-100'))
    yield call('get missing key', lambda: s3.get_object(Bucket=BUCKET, Key='nope'))
    yield call('head missing key', lambda: s3.head_object(Bucket=BUCKET, Key='nope'))
    yield call('get from missing bucket', lambda: s3.get_object(Bucket='no-such-bucket-here', Key='k'))

    yield call('put if-none-match * on existing', lambda: s3.put_object(Bucket=BUCKET, Key='docs/hello.txt', Body=b'x', IfNoneMatch='*'))
    yield call('put if-none-match * on new', lambda: s3.put_object(Bucket=BUCKET, Key='lock', Body=b'v1', IfNoneMatch='*'))
    lock_etag = s3.head_object(Bucket=BUCKET, Key='lock')['ETag']
    yield call('put if-match current etag', lambda: s3.put_object(Bucket=BUCKET, Key='lock', Body=b'v2', IfMatch=lock_etag))
    yield call('put if-match stale etag', lambda: s3.put_object(Bucket=BUCKET, Key='lock', Body=b'v3', IfMatch=lock_etag))
    yield call('put if-match on missing key', lambda: s3.put_object(Bucket=BUCKET, Key='no-lock', Body=b'v', IfMatch='"abc"'))

    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    etag = state['etag']
    yield call('get if-none-match current', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', IfNoneMatch=etag))
    yield call('get if-match other', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', IfMatch='"other"'))
    yield call('get if-modified-since future', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', IfModifiedSince=future))
    yield call('get if-unmodified-since past', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', IfUnmodifiedSince=past))
    yield call(
        'get if-match current + if-unmodified-since past',
        lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', IfMatch=etag, IfUnmodifiedSince=past),
    )
    yield call('head if-none-match current', lambda: s3.head_object(Bucket=BUCKET, Key='docs/hello.txt', IfNoneMatch=etag))

    yield call('copy object (COPY)', lambda: s3.copy_object(Bucket=BUCKET, Key='copies/a.txt', CopySource=f'{BUCKET}/docs/hello.txt'))
    yield call('head the copy', lambda: s3.head_object(Bucket=BUCKET, Key='copies/a.txt'))
    yield call(
        'copy object (REPLACE)',
        lambda: s3.copy_object(
            Bucket=BUCKET,
            Key='copies/b.txt',
            CopySource=f'{BUCKET}/docs/hello.txt',
            MetadataDirective='REPLACE',
            ContentType='text/x-new',
            Metadata={'new': 'yes'},
        ),
    )
    yield call('head the replaced copy', lambda: s3.head_object(Bucket=BUCKET, Key='copies/b.txt'))
    yield call('copy onto itself', lambda: s3.copy_object(Bucket=BUCKET, Key='docs/hello.txt', CopySource=f'{BUCKET}/docs/hello.txt'))
    yield call('copy from missing key', lambda: s3.copy_object(Bucket=BUCKET, Key='x', CopySource=f'{BUCKET}/nope'))
    yield call(
        'copy with copy-source-if-match other',
        lambda: s3.copy_object(Bucket=BUCKET, Key='x', CopySource=f'{BUCKET}/docs/hello.txt', CopySourceIfMatch='"other"'),
    )
    # Whatever that did, the listings below should not depend on it.
    s3.delete_object(Bucket=BUCKET, Key='x')

    for key in ['a.txt', 'logs/2024/1.log', 'logs/2024/2.log', 'logs/2025/1.log', 'logs/readme', 'z.txt', 'dir/ü a+b.txt']:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    yield call('list v2', lambda: s3.list_objects_v2(Bucket=BUCKET))
    yield call('list v2 delimiter', lambda: s3.list_objects_v2(Bucket=BUCKET, Delimiter='/'))
    yield call('list v2 prefix + delimiter', lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix='logs/', Delimiter='/'))
    first = s3.list_objects_v2(Bucket=BUCKET, Delimiter='/', MaxKeys=2)
    yield 'list v2 page 1 (max-keys 2)', {'status': 200, **normalize(first)}
    yield call(
        'list v2 page 2',
        lambda: s3.list_objects_v2(Bucket=BUCKET, Delimiter='/', MaxKeys=2, ContinuationToken=first['NextContinuationToken']),
    )
    yield call('list v2 start-after', lambda: s3.list_objects_v2(Bucket=BUCKET, StartAfter='logs/2025/1.log'))
    yield call('list v2 max-keys 0', lambda: s3.list_objects_v2(Bucket=BUCKET, MaxKeys=0))
    yield call('list v2 bad token', lambda: s3.list_objects_v2(Bucket=BUCKET, ContinuationToken='garbage'))
    yield call('list v1 delimiter max-keys 3', lambda: s3.list_objects(Bucket=BUCKET, Delimiter='/', MaxKeys=3))
    yield call('list v1 marker', lambda: s3.list_objects(Bucket=BUCKET, Delimiter='/', Marker='docs/'))
    yield call('get unicode key', lambda: s3.get_object(Bucket=BUCKET, Key='dir/ü a+b.txt'))

    yield call(
        'delete objects',
        lambda: s3.delete_objects(Bucket=BUCKET, Delete={'Objects': [{'Key': 'a.txt'}, {'Key': 'never-was'}]}),
    )
    yield call('delete objects quiet', lambda: s3.delete_objects(Bucket=BUCKET, Delete={'Objects': [{'Key': 'z.txt'}], 'Quiet': True}))
    yield call('delete missing object', lambda: s3.delete_object(Bucket=BUCKET, Key='never-was'))
    yield call('delete bucket not empty', lambda: s3.delete_bucket(Bucket=BUCKET))

    yield call(
        'put object with sha256 checksum',
        lambda: s3.put_object(Bucket=BUCKET, Key='sum', Body=b'checked', ChecksumAlgorithm='SHA256'),
    )
    yield call('get object with checksum mode', lambda: s3.get_object(Bucket=BUCKET, Key='sum', ChecksumMode='ENABLED'))

    yield call(
        'put notification configuration',
        lambda: s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                'QueueConfigurations': [
                    {
                        'Id': 'q',
                        'QueueArn': 'arn:aws:sqs:us-east-1:000000000000:events',
                        'Events': ['s3:ObjectCreated:*'],
                        'Filter': {'Key': {'FilterRules': [{'Name': 'prefix', 'Value': 'in/'}]}},
                    }
                ]
            },
            SkipDestinationValidation=True,
        ),
    )
    yield call('get notification configuration', lambda: s3.get_bucket_notification_configuration(Bucket=BUCKET))

    upload = s3.create_multipart_upload(Bucket=BUCKET, Key='mp.bin')
    uid = upload['UploadId']
    p1 = s3.upload_part(Bucket=BUCKET, Key='mp.bin', UploadId=uid, PartNumber=1, Body=b'a' * (5 * MIB))
    p2 = s3.upload_part(Bucket=BUCKET, Key='mp.bin', UploadId=uid, PartNumber=2, Body=b'b' * 100)
    yield call(
        'complete multipart upload',
        lambda: s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key='mp.bin',
            UploadId=uid,
            MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p1['ETag']}, {'PartNumber': 2, 'ETag': p2['ETag']}]},
        ),
    )
    yield call('head multipart object', lambda: s3.head_object(Bucket=BUCKET, Key='mp.bin'))
    yield call('head multipart object part 2', lambda: s3.head_object(Bucket=BUCKET, Key='mp.bin', PartNumber=2))
    yield call('get multipart object part 2', lambda: s3.get_object(Bucket=BUCKET, Key='mp.bin', PartNumber=2))
    yield call('get single-part object part 1', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', PartNumber=1))
    yield call('get single-part object part 2', lambda: s3.get_object(Bucket=BUCKET, Key='docs/hello.txt', PartNumber=2))
    small = s3.create_multipart_upload(Bucket=BUCKET, Key='small.bin')['UploadId']
    s1 = s3.upload_part(Bucket=BUCKET, Key='small.bin', UploadId=small, PartNumber=1, Body=b'tiny')
    s2 = s3.upload_part(Bucket=BUCKET, Key='small.bin', UploadId=small, PartNumber=2, Body=b'tiny')
    yield call(
        'complete with a part under 5 MiB',
        lambda: s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key='small.bin',
            UploadId=small,
            MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': s1['ETag']}, {'PartNumber': 2, 'ETag': s2['ETag']}]},
        ),
    )
    yield call('abort multipart upload', lambda: s3.abort_multipart_upload(Bucket=BUCKET, Key='small.bin', UploadId=small))

    keys = [o['Key'] for o in s3.list_objects_v2(Bucket=BUCKET).get('Contents', [])]
    s3.delete_objects(Bucket=BUCKET, Delete={'Objects': [{'Key': k} for k in keys]})
    yield call('delete emptied bucket', lambda: s3.delete_bucket(Bucket=BUCKET))


def run(endpoint):
    return list(sequence(client(endpoint)))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(url, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f'{url}: the server exited with {proc.returncode}')
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f'{url} did not come up')


def without(out, ignored):
    return {k: v for k, v in out.items() if k not in ignored}


def compare(deputy, ignored=()):
    procs = []
    data_dir = None
    try:
        if deputy is None:
            port = free_port()
            data_dir = tempfile.mkdtemp(prefix='deputy-compare-')
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            env = {**os.environ, 'DEPUTY_PORT': str(port), 'DEPUTY_DATA_DIR': data_dir}
            proc = subprocess.Popen(
                ['node', '--import', 'tsx', 'local/main.ts'],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            deputy = f'http://127.0.0.1:{port}'
            wait_for(f'{deputy}/_deputy/health', proc)
        moto_port = free_port()
        moto = subprocess.Popen(
            [sys.executable, '-m', 'moto.server', '-p', str(moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(moto)
        moto_url = f'http://127.0.0.1:{moto_port}'
        wait_for(f'{moto_url}/moto-api/', moto)

        ours = run(deputy)
        theirs = run(moto_url)
        differences = 0
        for (name, a), (_, b) in zip(ours, theirs):
            a, b = without(a, ignored), without(b, ignored)
            if a == b:
                continue
            differences += 1
            print(f'--- {name}')
            for field in sorted(set(a) | set(b)):
                if a.get(field) != b.get(field):
                    print(f'    {field}:')
                    print(f'      deputy: {json.dumps(a.get(field), ensure_ascii=False)}')
                    print(f'      moto:   {json.dumps(b.get(field), ensure_ascii=False)}')
        print(f'{len(ours)} steps, {differences} with differences')
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def main(argv):
    if len(argv) >= 2 and argv[0] == 'run':
        for name, out in run(argv[1]):
            print(json.dumps({'step': name, **out}, ensure_ascii=False, sort_keys=True))
        return
    if argv and argv[0] == 'compare':
        deputy = argv[argv.index('--deputy') + 1] if '--deputy' in argv else None
        ignored = argv[argv.index('--ignore') + 1].split(',') if '--ignore' in argv else []
        compare(deputy, ignored)
        return
    print(__doc__)
    sys.exit(2)


if __name__ == '__main__':
    main(sys.argv[1:])
