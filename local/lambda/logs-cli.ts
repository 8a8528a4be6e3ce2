/** `tsx local/lambda/logs-cli.ts [--function name] [--since 10m] [--json] [--follow]`: see logs-command.ts. */
import { runLogsCommand } from './logs-command.js';

const stop = new AbortController();
process.on('SIGINT', () => stop.abort());
process.on('SIGTERM', () => stop.abort());

process.exitCode = await runLogsCommand(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  signal: stop.signal,
});
