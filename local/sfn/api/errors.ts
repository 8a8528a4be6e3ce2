/** An error answered in the AWS JSON protocol shape; `code` becomes the SDK's exception name. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export function validationError(field: string, constraint: string, value: unknown = null): ApiError {
  return new ApiError(
    'ValidationException',
    `1 validation error detected: Value ${value === null ? 'null' : `'${String(value)}'`} at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}
