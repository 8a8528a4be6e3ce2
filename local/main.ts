import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FaultRuleInvalid, faultsFromEnv } from './faults.js';
import { formatLog } from './lambda/index.js';
import { startLocalCloud } from './server.js';
import { loadService, validateService } from './serverless/index.js';

// Node 20 is what this machine runs (Lambda gets nodejs22.x); the SDK's end-of-support notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HELP = `Usage: npm start [-- options]

Starts Deputy's local cloud: the AWS endpoint (Step Functions, SQS, S3, Lambda) and the service's
HTTP API, from serverless.yml, with everything durable under the data directory.

Options:
  --service <file>   the serverless.yml to run (default: ./serverless.yml; env DEPUTY_SERVICE)
  --stage <name>     the stage to resolve it for (default: dev)
  --json             print function logs as JSON lines
  -h, --help         this text

Environment: DEPUTY_PORT (4566), DEPUTY_HTTP_PORT (3000), DEPUTY_DATA_DIR (.deputy),
DEPUTY_USERS (the local issuer's users file; default local/identity/users.yaml),
DEPUTY_FAULTS (S3/SQS fault rules, JSON or @file; local/FAULTS.md).
Exit codes: 0 stopped cleanly, 1 could not start, 2 bad usage.`;

function envPort(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number (0-65535), got '${raw}'`);
    process.exit(2);
  }
  return n;
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      service: { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
}
try {
  args = parse();
} catch (e) {
  console.error(`${(e as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(HELP);
  process.exit(0);
}

const port = envPort('DEPUTY_PORT', 4566);
const httpPort = envPort('DEPUTY_HTTP_PORT', 3000);
const dataDir = resolve(process.env.DEPUTY_DATA_DIR || '.deputy');
const serviceFile = resolve(args.values.service ?? process.env.DEPUTY_SERVICE ?? 'serverless.yml');
const json = args.values.json === true;
// The local issuer (sign-in for the HTTP API) is on when its users file exists.
const usersFile = process.env.DEPUTY_USERS
  ? resolve(process.env.DEPUTY_USERS)
  : fileURLToPath(new URL('./identity/users.yaml', import.meta.url));
if (process.env.DEPUTY_USERS && !existsSync(usersFile)) {
  console.error(`DEPUTY_USERS names ${usersFile}, which does not exist`);
  process.exit(2);
}
const identity = existsSync(usersFile);
let faults: ReturnType<typeof faultsFromEnv>;
try {
  faults = faultsFromEnv(process.env.DEPUTY_FAULTS);
} catch (e) {
  if (!(e instanceof FaultRuleInvalid)) throw e;
  console.error(e.message);
  process.exit(2);
}

try {
  const model = existsSync(serviceFile)
    ? await loadService(serviceFile, {
        stage: args.values.stage ?? 'dev',
        env: process.env,
        // Queue URLs (Ref of a queue) name the endpoint's port.
        ...(port !== 0 ? { endpoint: `http://127.0.0.1:${port}` } : {}),
      })
    : undefined;
  if (!model) console.log(`No ${serviceFile}: starting the bare local cloud.`);
  if (model) {
    const problems = validateService(model);
    if (problems.length > 0) {
      console.error(`${serviceFile} cannot run:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
      process.exit(1);
    }
    for (const w of model.warnings) console.error(`warning: ${w}`);
  }
  // The offline model: recorded responses, served when the service has them. The functions use it
  // only when no model is configured (OPENAI_API_KEY / OPENAI_BASE_URL, or an agent's own variables).
  const recordings = model ? join(model.root, 'agents', 'recordings') : undefined;
  const offline = recordings !== undefined && existsSync(recordings);
  const cloud = await startLocalCloud({
    port,
    httpPort,
    ...(offline ? { recordings } : {}),
    ...(identity ? { identity: { usersFile } } : {}),
    ...(faults ? { faults } : {}),
    dataDir,
    ...(model ? { service: model } : {}),
    onLog: (entry) => console.log(json ? JSON.stringify(entry) : formatLog(entry)),
    log: (line) => console.error(line),
  });
  console.log(`Deputy local cloud on ${cloud.url} (data: ${dataDir})`);
  console.log(`  AWS services: states, sqs, s3, lambda  (aws --endpoint-url ${cloud.url} ...)`);
  if (cloud.httpUrl) console.log(`  HTTP API: ${cloud.httpUrl}`);
  if (cloud.issuerUrl) {
    const shown = relative(process.cwd(), usersFile).startsWith('..') ? usersFile : relative(process.cwd(), usersFile);
    console.log(`  identity: local issuer ${cloud.issuerUrl} (users from ${shown}; "npx deputy login --as anna")`);
  }
  if (model) {
    console.log(`  service ${model.service} (stage ${model.stage}) from ${serviceFile}:`);
    for (const line of cloud.deployed) console.log(`    ${line}`);
    for (const f of model.functions) console.log(`    function ${f.name} (${f.handler})`);
    const q = model.queues[0];
    const b = model.buckets[0];
    const prefix = `${model.service}-${model.stage}-`;
    const aws = `aws --endpoint-url ${cloud.url}`;
    if (existsSync(join(model.root, 'agents', 'examples', 'events'))) {
      // Deputy's own service: the README's walk-through, ready to paste (AWS_* credentials: any value).
      console.log('  run the example agents (README, "Run the example agents"):');
      console.log(`    ${aws} s3 sync agents/examples/business s3://${prefix}business/`);
      console.log(
        `    ${aws} sqs send-message --queue-url ${cloud.url}/000000000000/${prefix}refund-requests --message-body file://agents/examples/events/refund-A-1001.json`,
      );
      console.log(
        `    ${aws} s3 cp agents/examples/events/invoice-INV-2026-0042.json s3://${prefix}business/invoices/incoming/`,
      );
    } else if (q || b) {
      console.log('  send a first event:');
      if (q)
        console.log(
          `    ${aws} sqs send-message --queue-url ${cloud.url}/000000000000/${q.name} --message-body '{"hello":"world"}'`,
        );
      if (b) console.log(`    ${aws} s3 cp ./some-file.json s3://${b.name}/`);
    }
  }
  if (offline) {
    if (process.env.OPENAI_API_KEY || process.env.OPENAI_BASE_URL) {
      console.log(
        `  model: the real one (${process.env.OPENAI_BASE_URL || 'api.openai.com'}); OPENAI_API_KEY/OPENAI_BASE_URL are set`,
      );
    } else {
      console.log(
        `  model: OFFLINE RECORDING. No OPENAI_API_KEY is set, so agents get recorded responses from\n` +
          `         ${recordings} on ${cloud.url}/_deputy/model/v1. It is a recording, not a model:\n` +
          '         it answers only the example events. Set OPENAI_API_KEY (or OPENAI_BASE_URL) for a real model.',
      );
    }
  }
  if (faults) {
    console.log(
      `  FAULTS: ${faults.rules.length} rule(s) from DEPUTY_FAULTS make S3/SQS requests fail or stall (${cloud.url}/_deputy/faults; DELETE clears them)`,
    );
  }
  console.log(`  resumed ${cloud.resumed} running execution(s); Ctrl-C stops, the next start resumes.`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping; accepted work is saved and resumes at the next start.`);
    void cloud.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') {
    console.error(
      `A port is in use (${err.message}): is another local cloud running? Set DEPUTY_PORT / DEPUTY_HTTP_PORT.`,
    );
  } else {
    console.error(`Could not start the local cloud: ${err.message}`);
  }
  process.exit(1);
}
