import type { AnyToolDefinition } from '../registry.js';
import { httpRequest } from './http-request.js';
import { lambdaInvoke } from './lambda-invoke.js';
import { s3Get } from './s3-get.js';
import { s3Put } from './s3-put.js';
import { sqsSend } from './sqs-send.js';

export { httpRequest, lambdaInvoke, s3Get, s3Put, sqsSend };

/** The tool kinds every agent can use, alongside the project's own tools. */
export const builtinTools: readonly AnyToolDefinition[] = [httpRequest, s3Get, s3Put, sqsSend, lambdaInvoke];
