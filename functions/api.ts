import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handle } from '../shared/api/app.js';
import { deputyHandler } from '../shared/handler.js';
import { apiDeps } from '../shared/runtime/api.js';

const deps = apiDeps();

/** The operators' HTTP API and web console (see shared/api/app.ts). */
export const handler = deputyHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>('api', (event) =>
  handle(deps, event),
);
