/** The local HTTP API (API Gateway v2, payload format 2.0) for a service's httpApi routes. */
export { type JwtAuthorizerSpec, type JwtContext, renderClaims } from './authorizers.js';
export type { HttpRequestEvent } from './event.js';
export { httpApiFromModel, type LocalIssuer, type ServiceHttpApi } from './from-model.js';
export type { RouteSpec } from './routes.js';
export { type HttpApi, type HttpApiOptions, startHttpApi } from './server.js';
