import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallCounter } from './counters';
import type { FaultSwitch } from './faults';
import type { Target } from './http';
import type { ItemStore } from './items';
import type { TokenRegistry } from './token-registry';
import type { LifetimePolicy } from './token-request';
import type { UserDirectory } from './users';

/** What request handlers share: the simulated server's state and settings. */
export interface SimContext {
  readonly users: UserDirectory;
  readonly tokens: TokenRegistry;
  readonly faults: FaultSwitch;
  readonly counters: CallCounter;
  readonly items: ItemStore;
  /** `maxSeconds` may change at run time (`setMaxSeconds`), as Vidispine's configuration can. */
  lifetime: LifetimePolicy & { readonly defaultSeconds: number };
  readonly refusedRunAsStatus: 401 | 403;
  /** Send `Reason:` with refused credentials. */
  readonly reasonHeader: boolean;
  /** `GET /API/token` exists (false: VidiCore 4.11). */
  readonly tokenEndpoint: boolean;
  /** The key a signed upload URL (`/APInoauth/import/raw`) carries in `passkey` or `hash`. */
  readonly uploadPasskey: string;
  /** False: a front end without a backend, answering 503 to everything. */
  backendAvailable: boolean;
  /** Set: `GET /API/whoami` answers this status before any authentication (no such route). */
  whoamiStatus: number | undefined;
  /**
   * The origin `req` addressed, for Location headers: built from its `Host`, as JAX-RS
   * builds absolute URIs, so it names the server the way the client (a proxy) does.
   */
  origin(req: IncomingMessage): string;
}

export interface Exchange {
  readonly ctx: SimContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly target: Target;
}
