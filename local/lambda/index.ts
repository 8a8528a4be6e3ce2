/** The local Lambda service: see service.ts. */
export { type FunctionConfig, functionArn, parseFunctionRef } from './config.js';
export { LambdaError } from './errors.js';
export { formatLog, type LogEntry, type LogLevel, lambdaLine, type ReadLogsOptions, readLogs } from './logs.js';
export { createLambdaService } from './service.js';
export { requestIdFor } from './sfn.js';
export type {
  BatchReport,
  EventSourceMapping,
  EventSourceMappingInput,
  InvokeOptions,
  InvokeResult,
  LambdaService,
  LambdaServiceOptions,
} from './types.js';
