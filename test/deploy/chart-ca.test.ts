/**
 * A YAML-configured gateway whose Vidispine is https with a certificate of a private CA:
 * the proxy runs from the configuration the chart renders with vidispine.ca, the CA's
 * ConfigMap mounted where the chart mounts it, against the simulator behind TLS.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createTestCa, type TestCa } from '../support/certificates';
import { type HttpsFront, startHttpsFront } from '../support/https-front';
import { closedPort } from '../support/net';
import { type SimulatorHandle, startSimulator } from '../support/simulator';
import { gatewayContainer } from './checks';
import { CHART, HELMS, type Helm, renderChart } from './render';
import { runContainer, stopped } from './run-container';

const PASSWORD_FILE = '/var/run/secrets/vidispine-auth-proxy/alice-password';

describe('a YAML-configured gateway trusts the private CA of vidispine.ca', () => {
  let dir: string;
  let ca: TestCa;
  let simulator: SimulatorHandle;
  let front: HttpsFront;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vap-chart-ca-'));
    chmodSync(dir, 0o755);
    ca = await createTestCa('media private CA');
    simulator = await startSimulator();
    front = await startHttpsFront(ca, Number(new URL(simulator.sim.url).port));
  });
  afterAll(async () => {
    front.close();
    await simulator.sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the https Vidispine as its user', async () => {
    const [port, opsPort] = [await closedPort(), await closedPort()];
    const values = join(dir, 'values.yaml');
    writeFileSync(
      values,
      stringify({
        image: { repository: 'registry.example.com/vidispine-auth-proxy' },
        vidispine: { ca: 'configmap/media-ca' },
        config: {
          vidispine: { url: front.url },
          users: [{ name: 'alice', passwordFile: PASSWORD_FILE, listen: `[::]:${port}` }],
        },
        service: { ports: [{ name: 'http', port }], opsPort },
      }),
    );
    const { objects } = renderChart(HELMS[1] as Helm, CHART, [values]);
    const gateway = gatewayContainer(objects);
    const child = await runContainer(gateway, dir, {
      mounted: {
        [PASSWORD_FILE]: 'alice-password\n',
        '/etc/vidispine-auth-proxy-ca/ca.crt': ca.certPem,
      },
    });
    try {
      expect(child.lines.map((l) => l.event)).toContain('token_minted');
      const answer = await fetch(`http://127.0.0.1:${port}/API/whoami`);
      expect([answer.status, await answer.text()]).toEqual([200, 'alice']);
    } finally {
      await stopped(child);
    }
  });
});
