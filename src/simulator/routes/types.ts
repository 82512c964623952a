import type { Identity } from '../auth';
import type { Exchange } from '../context';
import type { Segment } from '../http';

export interface ApiExchange extends Exchange {
  readonly identity: Identity;
  readonly segments: readonly Segment[];
  /** Values of the route's ':name' segments, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
}

export interface ApiRoute {
  /** Segment names after /API; ':x' matches any one segment. */
  readonly pattern: readonly string[];
  /** As JAX-RS declares them: a GET resource answers HEAD too (`methodServed`). */
  readonly methods: readonly string[];
  handle(ex: ApiExchange): void;
}
