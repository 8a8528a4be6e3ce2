import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';

const run = promisify(execFile);
let cloud: LocalCloud;
let dir: string;

const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_PAGER: '',
};

/** Runs `aws --endpoint-url <local cloud> ...` and parses its JSON answer. */
async function aws(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('aws', ['--endpoint-url', cloud.url, '--output', 'json', ...args], { env });
  return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
}

async function awsFails(...args: string[]): Promise<string> {
  try {
    await run('aws', ['--endpoint-url', cloud.url, ...args], { env });
  } catch (e) {
    return String((e as { stderr?: string }).stderr);
  }
  throw new Error('the command succeeded');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-cli-'));
  cloud = await startLocalCloud({ port: 0, dataDir: dir });
});

afterAll(async () => {
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

// The AWS CLI (v1, botocore) and boto3 are preinstalled on every machine here, CI included.
describe('AWS CLI against the local cloud', () => {
  it('creates a state machine, runs an execution and reads its history', async () => {
    const definition = JSON.stringify({
      StartAt: 'Greet',
      States: {
        Greet: { Type: 'Pass', Parameters: { 'greeting.$': "States.Format('Hello, {}!', $.who)" }, End: true },
      },
    });
    const created = await aws(
      'stepfunctions',
      'create-state-machine',
      '--name',
      'cli-hello',
      '--role-arn',
      'arn:aws:iam::000000000000:role/cli',
      '--definition',
      definition,
    );
    const smArn = created.stateMachineArn as string;
    expect(smArn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:cli-hello');
    const started = await aws(
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      smArn,
      '--name',
      'run-1',
      '--input',
      '{"who":"ops"}',
    );
    await cloud.engine.whenClosed(started.executionArn as string);
    const described = await aws(
      'stepfunctions',
      'describe-execution',
      '--execution-arn',
      started.executionArn as string,
    );
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output as string)).toEqual({ greeting: 'Hello, ops!' });
    const hist = await aws('stepfunctions', 'get-execution-history', '--execution-arn', started.executionArn as string);
    expect((hist.events as { type: string }[]).map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    const listed = await aws('stepfunctions', 'list-executions', '--state-machine-arn', smArn);
    expect((listed.executions as { name: string }[]).map((e) => e.name)).toEqual(['run-1']);
  });

  it('shows AWS error codes for bad calls', async () => {
    expect(
      await awsFails(
        'stepfunctions',
        'describe-execution',
        '--execution-arn',
        'arn:aws:states:us-east-1:000000000000:execution:x:y',
      ),
    ).toContain('ExecutionDoesNotExist');
    expect(
      await awsFails(
        'stepfunctions',
        'create-state-machine',
        '--name',
        'bad',
        '--role-arn',
        'arn:aws:iam::000000000000:role/cli',
        '--definition',
        '{"StartAt":"Nope","States":{}}',
      ),
    ).toContain('InvalidDefinition');
    expect(
      await awsFails('stepfunctions', 'send-task-success', '--cli-input-json', '{"taskToken":"x","output":"{}"}'),
    ).toContain('InvalidToken');
  });

  it('serves boto3 as well', async () => {
    const script = [
      'import boto3, json, sys',
      `c = boto3.client("stepfunctions", endpoint_url="${cloud.url}", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")`,
      'print(json.dumps([m["name"] for m in c.list_state_machines()["stateMachines"]]))',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script], { env });
    expect(JSON.parse(stdout)).toContain('cli-hello');
  });
});
