import type { FaultLimits, TokenEndpointFault } from './types';

/** The longest delay a timer can hold: Node fires a longer one after 1 ms. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

interface ActiveFault {
  readonly fault: TokenEndpointFault;
  readonly until?: number;
  remaining?: number;
}

/** The failure the token endpoints are told to show, and when it heals by itself. */
export class FaultSwitch {
  private active: ActiveFault | undefined;

  constructor(private readonly now: () => number) {}

  set(fault: TokenEndpointFault, limits: FaultLimits = {}): void {
    const problem = faultProblem(fault, limits);
    if (problem) throw new Error(`invalid token endpoint fault: ${problem}`);
    this.active = {
      fault,
      until: limits.forMs === undefined ? undefined : this.now() + limits.forMs,
      remaining: limits.times,
    };
  }

  heal(): void {
    this.active = undefined;
  }

  /** The fault that applies to the token request arriving now, consuming one of its `times`. */
  take(): TokenEndpointFault | undefined {
    const a = this.active;
    if (!a) return undefined;
    if ((a.until !== undefined && this.now() >= a.until) || a.remaining === 0) {
      this.active = undefined;
      return undefined;
    }
    if (a.remaining !== undefined) a.remaining -= 1;
    return a.fault;
  }
}

function faultProblem(fault: TokenEndpointFault, limits: FaultLimits): string | undefined {
  if (
    fault.kind === 'status' &&
    !(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599)
  ) {
    return 'status must be an integer 200..599';
  }
  if (fault.kind === 'delay' && !(fault.ms >= 0 && fault.ms <= MAX_DELAY_MS)) {
    return `ms must be a number 0..${MAX_DELAY_MS}`;
  }
  if (limits.forMs !== undefined && !(limits.forMs >= 0)) return 'forMs must be non-negative';
  if (limits.times !== undefined && !(Number.isInteger(limits.times) && limits.times >= 0)) {
    return 'times must be a non-negative integer';
  }
  return undefined;
}
