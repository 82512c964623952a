/**
 * The parts of undici the proxy uses, from their own modules rather than undici's index,
 * which also loads fetch, WebSocket, the cache and mock agents: 130 ms and megabytes no
 * sidecar uses. Module paths are not a package's promise, so undici is pinned to one version
 * in package.json. All come from this one module so that the CLI's bundle loads them as one
 * file (scripts/build.mjs): apart, the connector would bring its own copy of undici's
 * internals (its errors, symbols and timers) beside the pool's.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- undici has no typed entry per module */
import type {
  buildConnector as BuildConnector,
  Client as ClientClass,
  Pool as PoolClass,
} from 'undici';

export const Pool = require('undici/lib/dispatcher/pool') as typeof PoolClass;
/** The pool's own connection class (the pool requires it too): one socket, one request at a time. */
export const Client = require('undici/lib/dispatcher/client') as typeof ClientClass;
export const buildConnector = require('undici/lib/core/connect') as typeof BuildConnector;
