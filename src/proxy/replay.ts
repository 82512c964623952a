import type { RequestFraming } from './framing';

/**
 * How a request body travels, decided before anything is sent, so that a 401 on our
 * token can always be hidden from the client when the body allows it.
 */

/**
 * - `none`: no body; replay by sending again.
 * - `buffer`: a declared length within the replay buffer; read it whole, send it, keep it
 *   until the final answer in case of a replay.
 * - `expect`: larger or of unknown length; streamed, but only after Vidispine answered
 *   `100 Continue` (or kept quiet for a while), so a 401 arrives before any body byte.
 */
export type BodyPlan = 'none' | 'buffer' | 'expect';

export function planBody(framing: RequestFraming, replayBufferBytes: number): BodyPlan {
  if (framing.kind === 'none') return 'none';
  return framing.kind === 'chunked' || framing.length > replayBufferBytes ? 'expect' : 'buffer';
}

/**
 * Whether a 401 may still be hidden: only while the body is still ours, and once — unless
 * the token it refused is no longer the store's current one (`superseded`). A request that
 * waited for a connection longer than a token lives went out with a token the store had
 * already replaced, and so may its replay: such a 401 says nothing of the request. The store
 * replaces a token no faster than it renews or confirms one dead, so replays stay rare.
 */
export function canReplay(
  plan: BodyPlan,
  attempt: number,
  bodyStarted: boolean,
  superseded: boolean,
): boolean {
  return (attempt === 0 || superseded) && (plan !== 'expect' || !bodyStarted);
}
