import type { TokenCheck, TokenChecker } from '../../src/tokens/types';
import type { ManualClock } from './clock';

/**
 * A token checker under the test's control: every token is `alive` unless the test said
 * `kill(token)` (then `dead`), set an answer for it, or set a `rule` that decides, or holds
 * its checks unanswered (`hold`, `release`). Records when each check was sent.
 */
export class FakeChecker implements TokenChecker {
  readonly sent: { token: string; at: number }[] = [];
  private readonly answers = new Map<string, TokenCheck>();
  private readonly held = new Map<string, ((result: TokenCheck) => void)[]>();
  rule: ((token: string) => TokenCheck | undefined) | undefined;

  constructor(private readonly clock: ManualClock) {}

  kill(token: string): void {
    this.answers.set(token, 'dead');
  }

  answer(token: string, result: TokenCheck): void {
    this.answers.set(token, result);
  }

  /** Checks of `token` wait, unanswered, until `release`. */
  hold(token: string): void {
    this.held.set(token, []);
  }

  release(token: string, result: TokenCheck): void {
    const waiting = this.held.get(token) ?? [];
    this.held.delete(token);
    for (const answer of waiting) answer(result);
  }

  check(token: string): Promise<TokenCheck> {
    this.sent.push({ token, at: this.clock.now() });
    const waiting = this.held.get(token);
    if (waiting) return new Promise((resolve) => waiting.push(resolve));
    return Promise.resolve(this.answers.get(token) ?? this.rule?.(token) ?? 'alive');
  }

  /** Checks of one token. */
  of(token: string): number {
    return this.sent.filter((c) => c.token === token).length;
  }
}
