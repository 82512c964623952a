/** `run [--config FILE]`: the proxy, until SIGTERM or SIGINT has drained it. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createProxyApp, type ProxyApp } from '../app';
import type { ProxyConfig } from '../config/types';
import { createLogger, type Logger } from '../ops/logger';
import { logStartup } from '../ops/startup-log';
import { beforeStart, serveUntilStopped } from '../ops/shutdown';
import { packageVersion } from '../version';
import { configErrorText, EXIT_OK } from './exit';
import { configForCommand } from './options';

/**
 * undici's HTTP/1.1 parser (llhttp), used for requests without a body, is WebAssembly, the
 * only WebAssembly the proxy runs. V8 compiles it at the first such request with its
 * baseline compiler, then again with its optimising one in the background: the second
 * compilation kept about 10 MiB more of the process at rest (a bare process with undici's
 * pool: 52 against 62 MiB after one request), and CPU per small GET measured the same
 * without it (93 against 91 µs, side by side). V8 reads the flag when it compiles.
 */
const WEBASSEMBLY_BASELINE_ONLY = '--liftoff-only';

/** The `gc` function of V8's gc extension. */
type GcExtension = (options: { type: 'minor' }) => void;

/**
 * A young-generation collection, for `ReadBuffers` and `AtRest`. V8 offers it to JavaScript
 * only as the `gc` of its gc extension, installed in the contexts created while
 * `--expose-gc` is set (and refused once it is not): one context is made for it at the
 * first call, 10 s into the first quiet spell at the latest. The main context gets no `gc`.
 */
function youngCollection(): () => void {
  let gc: GcExtension | undefined;
  return () => {
    if (gc === undefined) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as GcExtension;
    }
    gc({ type: 'minor' });
  };
}

export async function runCommand(args: readonly string[]): Promise<number> {
  setFlagsFromString(WEBASSEMBLY_BASELINE_ONLY);
  // Before anything listens, as every other check of the configuration: a SIGTERM meanwhile
  // ends the process, which has nothing to drain yet. The configuration file is read here
  // too: a volume that does not answer must not hold the signals' handlers.
  const config = await beforeStart({
    work: (stop) => configForCommand(args, process.env, stop),
    sayAnyway: configErrorText,
  });
  if (config === undefined) return EXIT_OK;
  const logger = createLogger({ level: config.log.level });
  logStartup(logger, config, packageVersion());
  return serve(config, logger, { collectYoung: youngCollection() });
}

/** Where each data listener is bound (port 0 resolved), for the `listening` log line. */
function boundAddresses(app: ProxyApp): { user: string; address: string; port: number }[] {
  return app.listeners.flatMap((l) => {
    const a = l.address();
    return a ? [{ user: l.user, address: a.address, port: a.port }] : [];
  });
}

export interface ServeOptions {
  readonly onStarted?: (app: ProxyApp) => void;
  /** SIGHUP stops it too (the demo, whose terminal may close); `run` ignores SIGHUP. */
  readonly stopOnHangUp?: boolean;
  readonly collectYoung?: () => void;
}

/** Runs an app until SIGTERM/SIGINT has drained it; resolves with the exit code. */
export function serve(
  config: ProxyConfig,
  logger: Logger,
  { onStarted, stopOnHangUp, collectYoung }: ServeOptions = {},
): Promise<number> {
  const app = createProxyApp({ config, logger, collectYoung });
  return serveUntilStopped(
    {
      ...app,
      start: () => app.start(),
      listening: () => ({ listeners: boundAddresses(app), ops: app.ops?.address() ?? null }),
    },
    { logger, shutdown: config.shutdown, onStarted: () => onStarted?.(app), stopOnHangUp },
  );
}
