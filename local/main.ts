import { resolve } from 'node:path';
import { startLocalCloud } from './server.js';

/** `npm start`: the local cloud on DEPUTY_PORT (4566), durable under DEPUTY_DATA_DIR (.deputy). */
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

const port = envPort('DEPUTY_PORT', 4566);
const dataDir = resolve(process.env.DEPUTY_DATA_DIR || '.deputy');

try {
  const cloud = await startLocalCloud({ port, dataDir });
  console.log(`Deputy local cloud listening on ${cloud.url} (data: ${dataDir})`);
  console.log(`  services: states (AWS Step Functions JSON 1.0 protocol)`);
  console.log(`  resumed ${cloud.resumed} running execution(s) from the journal`);
  console.log(`  try: aws --endpoint-url ${cloud.url} --region us-east-1 stepfunctions list-state-machines`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping; running executions resume at the next start.`);
    void cloud.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') {
    console.error(`Port ${port} is in use: is another local cloud running? Set DEPUTY_PORT to use another port.`);
  } else {
    console.error(`Could not start the local cloud: ${err.stack ?? err.message}`);
  }
  process.exit(1);
}
