/** The first log line: what this process will do, with every secret left out. */
import { formatListen } from '../config/listen';
import type { ListenAddress, ProxyConfig } from '../config/types';
import { shownBaseUrl } from '../vidispine/connection';
import { mintEndpointFor, mintModeFor } from '../vidispine/endpoints';
import type { Logger } from './logger';

const address = (listen: ListenAddress | undefined | null): string | null =>
  listen ? formatListen(listen) : null;

function configSummary(config: ProxyConfig): Record<string, unknown> {
  return {
    vidispine: shownBaseUrl(config.vidispine.url),
    adminUser: config.vidispine.admin?.username ?? null,
    runAsUser: config.vidispine.runAs?.username ?? null,
    users: config.users.map((user) => ({
      name: user.name,
      mintedBy: mintModeFor(user, config.vidispine),
      // Not `credential`: the logger censors a field of that name as a secret.
      credentialKind: user.credential?.kind ?? null,
      endpoint: mintEndpointFor(user, config.vidispine),
      listen: address(user.listen),
      lifetimeSeconds: user.token.seconds,
      autoRefresh: user.token.autoRefresh,
    })),
    opsListen: address(config.ops.listen),
    accessLog: config.proxy.accessLog,
    shutdown: config.shutdown,
  };
}

export function logStartup(logger: Logger, config: ProxyConfig, version: string): void {
  logger.info(
    { event: 'starting', version, node: process.version, config: configSummary(config) },
    `vidispine-auth-proxy ${version} starting for ${config.users.length} user(s)`,
  );
}
