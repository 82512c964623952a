/**
 * Composition root of the injection webhook: the HTTPS review listener, the certificate
 * watch that feeds it new pairs, the ops listener (/livez /readyz /metrics) and the order in
 * which they start and stop. The shutdown sequence is the proxy's (`ShutdownCoordinator`):
 * readiness fails first so the Service stops sending reviews, then the listener drains.
 */
import {
  createProbeServer,
  type OpsServer,
  type ProbeAnswer,
  type ProcessProbes,
} from '../ops/server';
import type { Logger } from '../ops/logger';
import type { ShutdownSteps } from '../ops/shutdown';
import type { KeyPath } from '../config/errors';
import { ListenError } from '../config/listen';
import type { InjectorConfig } from '../config/injector';
import { type CertificateWatch, type LoadedCertificate, watchCertificate } from './certificate';
import { WebhookMetrics } from './metrics';
import { createWebhookServer, type WebhookServer } from './server';

/** Ready while the review listener is open and not shutting down. */
class WebhookHealth implements ProcessProbes {
  private listening = false;
  private shutdownBegun = false;

  ready(): ProbeAnswer & { listening: boolean; shuttingDown: boolean } {
    return {
      ok: this.listening && !this.shutdownBegun,
      listening: this.listening,
      shuttingDown: this.shutdownBegun,
    };
  }

  markListening(): void {
    this.listening = true;
  }

  beginShutdown(): void {
    this.shutdownBegun = true;
  }
}

export interface Webhook {
  readonly server: WebhookServer;
  /** Null when `ops.listen` is off. */
  readonly ops: OpsServer | null;
  readonly health: WebhookHealth;
  readonly metrics: WebhookMetrics;
  start(): Promise<void>;
  readonly shutdownSteps: ShutdownSteps;
}

/** What the logs say of a serving certificate: never key material. */
export function certificateFields(c: LoadedCertificate): Record<string, string> {
  return {
    subject: c.subject,
    notAfter: c.notAfter.toISOString(),
    fingerprint256: c.fingerprint256,
  };
}

export function createWebhook(
  config: InjectorConfig,
  certificate: LoadedCertificate,
  logger: Logger,
): Webhook {
  const metrics = new WebhookMetrics();
  const health = new WebhookHealth();
  const server = createWebhookServer({
    defaults: config.sidecar,
    certificate,
    maxBodyBytes: config.webhook.maxBodyBytes,
    metrics,
    logger,
  });
  const ops = config.ops.listen ? createProbeServer({ probes: health, metrics, logger }) : null;
  metrics.certificateLoaded(certificate.notAfter, false);
  let watch: CertificateWatch | undefined;

  return {
    server,
    ops,
    health,
    metrics,
    async start() {
      // A bind failure names the setting as the user wrote it (WEBHOOK_LISTEN, webhook.listen).
      const { listen: opsListen } = config.ops;
      const setting = (path: KeyPath): string => config.names.name(path);
      if (ops && opsListen) {
        await ListenError.around(setting(['ops', 'listen']), opsListen, () =>
          ops.listen(opsListen),
        );
      }
      await ListenError.around(setting(['webhook', 'listen']), config.webhook.listen, () =>
        server.listen(config.webhook.listen),
      );
      watch = watchCertificate(config.webhook, certificate, {
        onLoad(loaded) {
          server.useCertificate(loaded);
          metrics.certificateLoaded(loaded.notAfter, true);
          logger.info(
            { event: 'certificate_reloaded', ...certificateFields(loaded) },
            'serving certificate reloaded: new connections use it',
          );
        },
        onError(error) {
          metrics.certificateReloadFailed();
          logger.warn(
            { event: 'certificate_reload_failed', error: error.message },
            'serving certificate changed but does not load; keeping the one in use',
          );
        },
        onRestored() {
          metrics.certificateRestored();
          logger.info(
            { event: 'certificate_restored' },
            'serving certificate files are back to the pair in use',
          );
        },
      });
      health.markListening();
    },
    shutdownSteps: {
      endKeepAlive: () => server.endKeepAlive(),
      closeListeners: () => server.close(),
      abortInFlight: () => server.destroy(),
      stop: async () => {
        watch?.stop();
        await ops?.close();
      },
    },
  };
}
