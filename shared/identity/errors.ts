import { DeputyError } from '../errors.js';

/**
 * Why a token was refused, as a short code: the HTTP API's `www-authenticate` description and the
 * logs use it; people read the message.
 */
export type UnauthenticatedReason =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'issuer'
  | 'audience'
  | 'expired'
  | 'not-yet-valid'
  | 'claims';

/**
 * The caller is not signed in: no token, or one that fails verification (bad signature, wrong issuer
 * or audience, expired, ...), or one without the claims Deputy needs (a tenant). An HTTP API answers
 * 401; the message says what is wrong with the token, never what the right value would be.
 */
export class Unauthenticated extends DeputyError {
  override readonly name = 'Unauthenticated';
  readonly fault = 'input';
  constructor(
    readonly reason: UnauthenticatedReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The issuer's signing keys could not be fetched (network, 5xx, not JSON): not the caller's fault. */
export class IdentityUnavailable extends DeputyError {
  override readonly name = 'IdentityUnavailable';
  readonly fault = 'transient';
}
