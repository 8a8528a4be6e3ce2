export type { S3EventRecord } from './notifications.js';
export { createS3Service, type NotificationSink, type S3Service, type S3ServiceOptions } from './service.js';
