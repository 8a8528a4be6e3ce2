/**
 * S3 errors in the REST-XML shape clients parse: `<Error><Code>..</Code><Message>..</Message>...`.
 * The SDKs map `Code` to the exception name and the status to retry/404 handling, so both matter.
 */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Extra elements after Message, in order, e.g. `[['Key', 'a.txt']]`. */
    readonly details: [string, string][] = [],
    /** Headers to send with the error (e.g. Allow on 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export const noSuchBucket = (bucket: string) =>
  new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, [['BucketName', bucket]]);

export const noSuchKey = (key: string) =>
  new S3Error('NoSuchKey', 'The specified key does not exist.', 404, [['Key', key]]);

export const noSuchUpload = (uploadId: string) =>
  new S3Error(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    404,
    [['UploadId', uploadId]],
  );

export const invalidBucketName = (bucket: string) =>
  new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, [['BucketName', bucket]]);

export const invalidArgument = (message: string, name: string, value: string) =>
  new S3Error('InvalidArgument', message, 400, [
    ['ArgumentName', name],
    ['ArgumentValue', value],
  ]);

export const invalidRequest = (message: string) => new S3Error('InvalidRequest', message, 400);

export const malformedXml = () =>
  new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
    400,
  );

export const preconditionFailed = (condition: string) =>
  new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, [
    ['Condition', condition],
  ]);

export const notImplemented = (what: string) =>
  new S3Error('NotImplemented', `${what} is not implemented by Deputy's local S3.`, 501);

export const notImplementedHeader = (header: string) =>
  new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', 501, [
    ['Header', header],
  ]);

export const methodNotAllowed = (method: string, resourceType: 'SERVICE' | 'BUCKET' | 'OBJECT', allow: string) =>
  new S3Error(
    'MethodNotAllowed',
    'The specified method is not allowed against this resource.',
    405,
    [
      ['Method', method],
      ['ResourceType', resourceType],
    ],
    { allow },
  );

export const internalError = () =>
  new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500);
