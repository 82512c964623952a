/**
 * The two parts of undici the proxy uses, from their own modules rather than undici's index,
 * which also loads fetch, WebSocket, the cache and mock agents: 130 ms and megabytes no
 * sidecar uses. Module paths are not a package's promise, so undici is pinned to one version
 * in package.json. Both come from this one module so that the CLI's bundle loads them as one
 * file (scripts/build.mjs): apart, the connector would bring its own copy of undici's
 * internals (its errors, symbols and timers) beside the pool's.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- undici has no typed entry per module */
import type { buildConnector as BuildConnector, Pool as PoolClass } from 'undici';

export const Pool = require('undici/lib/dispatcher/pool') as typeof PoolClass;
export const buildConnector = require('undici/lib/core/connect') as typeof BuildConnector;
