/**
 * The mint-failure reasons as the README sorts them, written out independently of
 * `src/vidispine/failures.ts` so that the tests notice when its verdicts change.
 */
import type { MintFailureReason } from '../../src/vidispine/failures';

/** Only an operator can fix these: retries start at 8 s, the log line is an error. */
export const OPERATOR_MUST_FIX = [
  'unauthorized',
  'forbidden',
  'user_disabled',
  'not_found',
  'bad_request',
  'secret_unreadable',
] as const satisfies readonly MintFailureReason[];

/** These may pass on their own: retries start at 1 s, the log line is a warning. */
export const MAY_PASS = [
  'rate_limited',
  'server_error',
  'network',
  'timeout',
  'empty_token',
] as const satisfies readonly MintFailureReason[];
