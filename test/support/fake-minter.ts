import {
  MintError,
  type MintEndpoint,
  type MintFailureReason,
  type MintedToken,
  type TokenMinter,
} from '../../src/tokens/types';
import type { ManualClock } from './clock';

interface Pending {
  readonly sentAt: number;
  readonly resolve: (t: MintedToken) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * A minter under the test's control. `auto` answers at once with the next outcome (success
 * unless failures were queued); `manual` holds each request until the test settles it.
 */
export class FakeMinter implements TokenMinter {
  calls = 0;
  private serial = 0;
  private readonly pending: Pending[] = [];
  private readonly failures: MintFailureReason[] = [];
  readonly signals: AbortSignal[] = [];
  /** Each token handed out → when its mint was sent. */
  readonly issued = new Map<string, number>();
  /** The secret file its mints would read, for `secretFolderChanged`. */
  secretFile?: string;

  constructor(
    private readonly clock: ManualClock,
    readonly seconds = 60,
    readonly endpoint: MintEndpoint = 'token',
    public mode: 'auto' | 'manual' = 'auto',
  ) {}

  failNext(...reasons: MintFailureReason[]): this {
    this.failures.push(...reasons);
    return this;
  }

  mint(signal?: AbortSignal): Promise<MintedToken> {
    this.calls += 1;
    if (signal) this.signals.push(signal);
    const sentAt = this.clock.now();
    if (this.mode === 'auto') {
      const reason = this.failures.shift();
      return reason
        ? Promise.reject(new MintError(reason, `failed: ${reason}`))
        : Promise.resolve(this.token(sentAt));
    }
    return new Promise((resolve, reject) => this.pending.push({ sentAt, resolve, reject }));
  }

  get waiting(): number {
    return this.pending.length;
  }

  succeed(): string {
    const p = this.take();
    const token = this.token(p.sentAt);
    p.resolve(token);
    return token.value;
  }

  fail(reason: MintFailureReason): void {
    this.failWith(new MintError(reason, `failed: ${reason}`));
  }

  failWith(err: MintError): void {
    this.take().reject(err);
  }

  private take(): Pending {
    const p = this.pending.shift();
    if (!p) throw new Error('no mint in flight');
    return p;
  }

  private token(sentAt: number): MintedToken {
    this.serial += 1;
    const value = `tok-${this.serial}`;
    this.issued.set(value, sentAt);
    return { value, sentAt, seconds: this.seconds };
  }
}
