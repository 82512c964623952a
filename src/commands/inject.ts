/**
 * `inject [--config FILE]`: the sidecar injection webhook, until SIGTERM/SIGINT has drained
 * it. A bad configuration, or a serving certificate that does not load, is a `ConfigError`
 * naming the key (exit 2); a listener that cannot open is exit 1.
 */
import type { KeyIssue } from '../config/errors';
import {
  checkedInjectorConfig,
  type InjectorConfig,
  parseInjectorConfig,
} from '../config/injector';
import { withConfigBytes } from '../config/load';
import {
  CertificateError,
  type LoadedCertificate,
  loadCertificateUntil,
} from '../inject/certificate';
import { certificateFields, createWebhook } from '../inject/webhook';
import { createLogger } from '../ops/logger';
import { beforeStart, serveUntilStopped } from '../ops/shutdown';
import { packageVersion } from '../version';
import { EXIT_OK } from './exit';
import { parseConfigArgs } from './options';

interface Loaded {
  readonly config: InjectorConfig;
  readonly certificate: LoadedCertificate;
}

/**
 * The configuration, with the serving pair loaded once to prove it works. The files are read
 * off the main thread, given up on when `stop` aborts: the configuration file
 * (`withConfigBytes`), then the pair (`loadCertificateUntil`).
 */
async function load(args: readonly string[], stop: AbortSignal): Promise<Loaded> {
  const opts = await withConfigBytes({ ...parseConfigArgs(args), env: process.env }, stop);
  const parsed = parseInjectorConfig(opts);
  const webhook = parsed.config?.webhook;
  let certificate: LoadedCertificate | undefined;
  const verified: KeyIssue[] = [];
  if (webhook !== undefined) {
    try {
      certificate = await loadCertificateUntil(webhook, stop);
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
      const key = err.file === webhook.certFile ? 'certFile' : 'keyFile';
      verified.push({ path: ['webhook', key], problem: err.message });
    }
  }
  const config = checkedInjectorConfig(parsed, verified, process.env);
  // The configuration passed: its pair loaded.
  return { config, certificate: certificate as LoadedCertificate };
}

export async function injectCommand(args: readonly string[]): Promise<number> {
  // Before anything listens: a SIGTERM or SIGINT while a file's volume does not answer ends
  // the process, which has nothing to drain yet.
  const loaded = await beforeStart((stop) => load(args, stop));
  if (loaded === undefined) return EXIT_OK;
  const { config, certificate } = loaded;
  const logger = createLogger({ level: config.log.level });
  const { names: _names, ...settings } = config;
  logger.info(
    {
      event: 'starting',
      version: packageVersion(),
      node: process.version,
      config: { ...settings, certificate: certificateFields(certificate) },
    },
    'starting the sidecar injection webhook',
  );
  const webhook = createWebhook(config, certificate, logger);
  return serveUntilStopped(
    {
      ...webhook,
      start: () => webhook.start(),
      listening: () => ({ webhook: webhook.server.address(), ops: webhook.ops?.address() ?? null }),
    },
    { logger, shutdown: config.shutdown },
  );
}
