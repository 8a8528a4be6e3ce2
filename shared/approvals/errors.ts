import { DeputyError } from '../errors.js';

/**
 * Why an approval API call was refused. Each carries the HTTP status the API answers with and a
 * message an operator can act on; none changes anything.
 */
export class ApprovalRefused extends DeputyError {
  override readonly name = 'ApprovalRefused';
  readonly fault = 'input';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
