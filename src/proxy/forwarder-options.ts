/** What every exchange of one data listener is served with. */
import type { Logger } from 'pino';
import type { TokenStore } from '../tokens/types';
import type { AdmissionRules } from './admission';
import type { BodyBudget } from './body';
import type { LocationRewriter } from './location';
import type { Notice } from './notices';
import type { AccessLogger, ForwardObserver } from './observer';
import type { Pipelines } from './pipeline';
import type { ReadBuffers } from './read-buffers';
import type { Upstream } from './upstream';

export interface ForwarderOptions {
  readonly rules: AdmissionRules;
  /** The listener's per-connection order of requests, shared with upgrades and CONNECT. */
  readonly pipelines: Pipelines;
  readonly upstream: Upstream;
  readonly rewriteLocation: LocationRewriter;
  readonly replayBufferBytes: number;
  /** Shared by every listener: bodies held for replay at once. */
  readonly bodyBudget: BodyBudget;
  /** Shared by every listener: hears every body read, either way. */
  readonly readBuffers: ReadBuffers;
  readonly expectContinueTimeoutMs: number;
  /** A client that sends no body byte for this long gets 408. */
  readonly clientBodyTimeoutMs: number;
  /** A client that takes no byte of its answer for this long has it cut. */
  readonly sendTimeoutMs: number;
  readonly store: TokenStore;
  readonly observer: ForwardObserver;
  readonly logger: Logger;
  /** Shared with the listener's upgrades. */
  readonly notices: Notice;
  /** Set only when `proxy.accessLog` is on: the data path pays for nothing otherwise. */
  readonly accessLog?: AccessLogger;
}
