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

/** Whether a 401 may still be hidden: only once, and only while the body is still ours. */
export function canReplay(plan: BodyPlan, attempt: number, bodyStarted: boolean): boolean {
  return attempt === 0 && (plan !== 'expect' || !bodyStarted);
}
