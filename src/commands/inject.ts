/**
 * `inject [--config FILE]`: the sidecar injection webhook, until SIGTERM/SIGINT has drained
 * it. A bad configuration, or a serving certificate that does not load, is a `ConfigError`
 * naming the key (exit 2); a listener that cannot open is exit 1.
 */
import { ConfigError, type KeyIssue, type KeyPath } from '../config/errors';
import {
  checkedInjectorConfig,
  type InjectorConfig,
  type MintAccount,
  parseInjectorConfig,
} from '../config/injector';
import { withConfigBytes } from '../config/load';
import {
  CertificateError,
  type PairRole,
  CertificateUnreadError,
  type LoadedCertificate,
  loadCertificateUntil,
  shownFile,
} from '../inject/certificate';
import { certificateFields, createWebhook } from '../inject/webhook';
import { createLogger } from '../ops/logger';
import { beforeStart, serveUntilStopped, STUCK_READ_GRACE_MS } from '../ops/shutdown';
import { packageVersion } from '../version';
import { configErrorText, EXIT_OK } from './exit';
import { parseConfigArgs } from './options';

interface Loaded {
  readonly config: InjectorConfig;
  readonly certificate: LoadedCertificate;
}

/**
 * How long the serving pair may take to read beside bad keys: no setting bounds its read, and
 * the bad keys wait for it. A second, as a read a signal gave up on is given
 * (`STUCK_READ_GRACE_MS`): one not back by then is named as stuck, where it would hold the
 * report of the bad keys until a signal.
 */
const PAIR_BESIDE_BAD_KEYS_MS = STUCK_READ_GRACE_MS;

/** The key of the pair's setting at fault (one path may be given to both). */
const pairKey = (role: PairRole): KeyPath => ['webhook', role];

/**
 * The configuration, with the serving pair loaded once to prove it works. The files are read
 * off the main thread, given up on when `stop` aborts: the configuration file
 * (`withConfigBytes`), then the pair (`loadCertificateUntil`), whose problems are named with
 * the other keys' in one `ConfigError`.
 */
async function load(args: readonly string[], stop: AbortSignal): Promise<Loaded> {
  const opts = await withConfigBytes({ ...parseConfigArgs(args), env: process.env }, stop);
  const parsed = parseInjectorConfig(opts);
  const { pair } = parsed;
  let certificate: LoadedCertificate | undefined;
  const verified: KeyIssue[] = [];
  const unread: string[] = [];
  if (pair !== undefined) {
    const bound =
      parsed.config === undefined
        ? AbortSignal.any([stop, AbortSignal.timeout(PAIR_BESIDE_BAD_KEYS_MS)])
        : stop;
    try {
      certificate = await loadCertificateUntil(pair, bound);
    } catch (err) {
      if (err instanceof CertificateError) {
        verified.push({ path: pairKey(err.role), problem: err.message });
      } else if (!(err instanceof CertificateUnreadError) || parsed.config !== undefined) {
        throw err;
      } else if (!stop.aborted) {
        const key = parsed.source.names.name(pairKey(err.role));
        unread.push(
          `${key}: file ${shownFile(err.file)} was not read within ${PAIR_BESIDE_BAD_KEYS_MS / 1000} s: is its volume stuck?`,
        );
      }
      // Given up on by a signal beside bad keys: those are said all the same (`sayAnyway`).
    }
  }
  let config: InjectorConfig;
  try {
    config = checkedInjectorConfig(parsed, verified, process.env);
  } catch (err) {
    if (err instanceof ConfigError && unread.length > 0) throw new ConfigError(err.issues, unread);
    throw err;
  }
  // The configuration passed: its pair loaded.
  return { config, certificate: certificate as LoadedCertificate };
}

/**
 * A minting account as the `starting` line shows it: its `secret` is the name of a Kubernetes
 * Secret, which the webhook never reads, so it is logged as `secretName`. Under `secret` the
 * log would blank it, as it must blank a field of that name wherever it holds a secret.
 */
function loggedAccount(
  account: MintAccount | undefined,
): (Omit<MintAccount, 'secret'> & { readonly secretName: string }) | undefined {
  if (account === undefined) return undefined;
  const { user, secret, ...rest } = account;
  return { user, secretName: secret, ...rest };
}

export async function injectCommand(args: readonly string[]): Promise<number> {
  // Before anything listens: a SIGTERM or SIGINT while a file's volume does not answer ends
  // the process, which has nothing to drain yet.
  const loaded = await beforeStart({
    work: (stop) => load(args, stop),
    sayAnyway: configErrorText,
  });
  if (loaded === undefined) return EXIT_OK;
  const { config, certificate } = loaded;
  const logger = createLogger({ level: config.log.level });
  const { names: _names, ...settings } = config;
  logger.info(
    {
      event: 'starting',
      version: packageVersion(),
      node: process.version,
      config: {
        ...settings,
        sidecar: {
          ...settings.sidecar,
          admin: loggedAccount(settings.sidecar.admin),
          runAs: loggedAccount(settings.sidecar.runAs),
        },
        certificate: certificateFields(certificate),
      },
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
