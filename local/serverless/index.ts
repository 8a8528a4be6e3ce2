/** The serverless.yml loader: what a service asks the local cloud to create. */
export { ServiceConfigError } from './errors.js';
export { loadService } from './load.js';
export type * from './model.js';
export { validateService } from './validate.js';
