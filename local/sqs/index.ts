export { createSqsService, type SqsService } from './service.js';
