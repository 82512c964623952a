/** `run [--config FILE]`: the proxy, until SIGTERM or SIGINT has drained it. */
import { createProxyApp, type ProxyApp } from '../app';
import type { ProxyConfig } from '../config';
import { createLogger, type Logger, logStartup, serveUntilStopped } from '../ops';
import { packageVersion } from '../version';
import { configForCommand } from './options';

export async function runCommand(args: readonly string[]): Promise<number> {
  const config = configForCommand(args, process.env);
  const logger = createLogger({ level: config.log.level });
  logStartup(logger, config, packageVersion());
  return serve(config, logger);
}

/** Where each data listener is bound (port 0 resolved), for the `listening` log line. */
function boundAddresses(app: ProxyApp): { user: string; address: string; port: number }[] {
  return app.listeners.flatMap((l) => {
    const a = l.address();
    return a ? [{ user: l.user, address: a.address, port: a.port }] : [];
  });
}

/** Runs an app until SIGTERM/SIGINT has drained it; resolves with the exit code. */
export function serve(
  config: ProxyConfig,
  logger: Logger,
  onStarted?: (app: ProxyApp) => void,
): Promise<number> {
  const app = createProxyApp({ config, logger });
  return serveUntilStopped(
    {
      ...app,
      start: () => app.start(),
      listening: () => ({ listeners: boundAddresses(app), ops: app.ops?.address() ?? null }),
    },
    { logger, shutdown: config.shutdown, onStarted: () => onStarted?.(app) },
  );
}
