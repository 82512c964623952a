import { join } from 'node:path';
import { appConfigProblems } from './app-config';
import { describedKeys } from '../../src/config/keys';
import { fileSchema } from '../../src/config/schema';
import { secretProblems, secretReadProblems, workloadProblems } from './checks';
import { ENV_NAMES, SECRET_ENV_NAMES } from './contract';
import {
  K8sObject,
  ROOT,
  at,
  isRecord,
  records,
  renderKustomization,
  schemaProblems,
} from './render';

// The property checks must fail on the mistakes they exist for; each case breaks one
// property of a manifest that passes and expects that problem to be reported.
const base = renderKustomization(join(ROOT, 'deploy', 'base'));
const sidecar = renderKustomization(join(ROOT, 'deploy', 'examples', 'sidecar'));
const multiUser = renderKustomization(join(ROOT, 'deploy', 'examples', 'multi-user'));

function mutated(
  objects: readonly K8sObject[],
  change: (spec: Record<string, unknown>) => void,
): K8sObject[] {
  const copy = structuredClone(objects) as K8sObject[];
  for (const o of copy) {
    const spec = at(o, 'spec', 'template', 'spec');
    if (isRecord(spec)) change(spec);
  }
  return copy;
}

const proxyIn = (spec: Record<string, unknown>): Record<string, unknown> =>
  [...records(spec.initContainers), ...records(spec.containers)].find(
    (c) => c.name === 'vidispine-auth-proxy',
  ) ?? {};

const securityOf = (spec: Record<string, unknown>): Record<string, unknown> =>
  proxyIn(spec).securityContext as Record<string, unknown>;
const envOf = (spec: Record<string, unknown>): unknown[] => proxyIn(spec).env as unknown[];

describe('the configuration contract the checks hold manifests to', () => {
  const proxyVariables = describedKeys(fileSchema).flatMap((k) => (k.env ? [k.env] : []));

  it("names only the proxy's own variables", () => {
    expect(ENV_NAMES.filter((n) => n !== 'CONFIG_FILE' && !proxyVariables.includes(n))).toEqual([]);
  });

  it('knows every credential variable the proxy reads, with its file form', () => {
    const credentials = proxyVariables.filter((n) => /PASSWORD|SECRET|ACCESS_KEY|_USER$/.test(n));
    expect(credentials.filter((n) => !ENV_NAMES.includes(n))).toEqual([]);
    for (const name of SECRET_ENV_NAMES) expect(proxyVariables).toContain(`${name}_FILE`);
  });
});

describe('property checks', () => {
  it('pass on the unmodified manifests', () => {
    expect(workloadProblems(base.objects)).toEqual([]);
    expect(workloadProblems(sidecar.objects)).toEqual([]);
  });

  it.each<[string, (spec: Record<string, unknown>) => void, string]>([
    [
      'a writable root filesystem',
      (s) => delete securityOf(s).readOnlyRootFilesystem,
      'readOnlyRootFilesystem',
    ],
    ['kept capabilities', (s) => (securityOf(s).capabilities = {}), 'drop ALL'],
    ['root', (s) => (securityOf(s).runAsUser = 0), 'runAsUser 0'],
    [
      'no seccomp profile',
      (s) => {
        delete (s.securityContext as Record<string, unknown>).seccompProfile;
        delete securityOf(s).seccompProfile;
      },
      'seccompProfile',
    ],
    [
      'a probe on the wrong path',
      (s) => ((at(proxyIn(s), 'readinessProbe', 'httpGet') as { path: string }).path = '/livez'),
      'readinessProbe path /livez',
    ],
    [
      'a startup probe that gives up within a Vidispine outage (120 × 1 s)',
      (s) => {
        const startup = proxyIn(s).startupProbe as Record<string, unknown>;
        startup.periodSeconds = 1;
        startup.failureThreshold = 120;
      },
      'startupProbe allows less than 600 s for the first token',
    ],
    [
      'a probe on the data port',
      (s) => ((at(proxyIn(s), 'livenessProbe', 'httpGet') as { port: number }).port = 8080),
      'livenessProbe port 8080',
    ],
    [
      'an env name outside the contract',
      (s) => envOf(s).push({ name: 'VIDISPINE_PASS', value: '/x' }),
      'env VIDISPINE_PASS',
    ],
    [
      'a literal password in env',
      (s) => envOf(s).push({ name: 'VIDISPINE_PASSWORD', value: 'hunter2' }),
      'literal secret',
    ],
    [
      'a short grace period',
      (s) => (s.terminationGracePeriodSeconds = 30),
      'terminationGracePeriodSeconds 30',
    ],
    [
      'a mounted service account token',
      (s) => delete s.automountServiceAccountToken,
      'service account token',
    ],
  ])('report %s', (_what, change, problem) => {
    expect(workloadProblems(mutated(base.objects, change)).join('\n')).toContain(problem);
  });

  it('report a sidecar whose startup probe gives up within a Vidispine outage (120 × 1 s)', () => {
    const short = mutated(sidecar.objects, (s) => {
      (proxyIn(s).startupProbe as Record<string, unknown>).failureThreshold = 120;
    });
    expect(workloadProblems(short).join('\n')).toContain(
      'startupProbe allows less than 600 s for the first token',
    );
  });

  it('report a sidecar whose readiness asks only whether it serves', () => {
    // A sidecar's readiness means what a gateway's does: every user holds a token.
    const servingReady = mutated(sidecar.objects, (s) => {
      (at(proxyIn(s), 'readinessProbe', 'httpGet') as { path: string }).path = '/livez';
    });
    expect(workloadProblems(servingReady).join('\n')).toContain(
      'readinessProbe path /livez, want /readyz',
    );
  });

  it('report a sidecar that would block the app or listen beyond loopback', () => {
    const broken = mutated(sidecar.objects, (s) => {
      const proxy = proxyIn(s);
      delete proxy.restartPolicy;
      (proxy.env as unknown[]).push({ name: 'PROXY_LISTEN', value: '0.0.0.0:8080' });
    });
    const problems = workloadProblems(broken).join('\n');
    expect(problems).toContain('restartPolicy Always');
    expect(problems).toContain('data listener on 0.0.0.0');
  });

  it('report a sidecar that leans on the pod: its user, or fsGroup to read its secret', () => {
    const leaning = mutated(sidecar.objects, (s) => {
      const sc = securityOf(s);
      delete sc.runAsUser;
      delete sc.runAsGroup;
      for (const v of records(s.volumes)) (v.secret as Record<string, unknown>).defaultMode = 0o440;
    });
    // Its own runAsNonRoot refuses an app's root; without it, the pod's user would apply.
    expect(workloadProblems(leaning)).toEqual([]);
    const rootable = mutated(leaning, (s) => delete securityOf(s).runAsNonRoot);
    expect(workloadProblems(rootable).join('\n')).toContain(
      'neither runAsUser nor runAsNonRoot set on the container',
    );
    expect(secretReadProblems(leaning).join('\n')).toContain(
      'uid 65532 (groups 65532) cannot read /var/run/secrets/vidispine-auth-proxy/password (owner 0:0, mode 440)',
    );
    const withFsGroup = mutated(leaning, (s) => (s.securityContext = { fsGroup: 65532 }));
    expect(secretReadProblems(withFsGroup)).toEqual([]);
    const appAsRoot = mutated(sidecar.objects, (s) => (s.securityContext = { runAsUser: 0 }));
    expect(workloadProblems(appAsRoot)).toEqual([]);
    expect(secretReadProblems(appAsRoot)).toEqual([]);
  });

  it('report Secrets and literal passwords in manifests', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds' },
      stringData: { password: 'x' },
    };
    expect(
      secretProblems({ text: 'stringData:\n  password: hunter2\n', objects: [secret] }),
    ).toHaveLength(2);
    const configMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' },
      data: { 'config.yaml': 'users:\n  - name: a\n    password: x\n' },
    };
    expect(secretProblems({ text: '', objects: [configMap] }).join('\n')).toContain('ConfigMap/c');
    expect(secretProblems({ text: 'passwordFile: /run/x\n', objects: [] })).toEqual([]);
  });

  it('report objects that break the Kubernetes schema', () => {
    const broken = mutated(base.objects, (s) => {
      (records(proxyIn(s).ports)[0] as { containerPort: unknown }).containerPort = 'eighty';
    });
    expect(schemaProblems(broken).join('\n')).toContain('containerPort must be integer');
    const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(schemaProblems([unknown])).toEqual(['Widget/w: no schema for example.com/v1 Widget']);
  });

  it('report configurations the proxy rejects or outlasts the grace period', () => {
    const setEnv = (name: string, value: string) => (s: Record<string, unknown>) => {
      for (const e of records(proxyIn(s).env)) if (e.name === name) e.value = value;
    };
    const unmounted = mutated(base.objects, setEnv('VIDISPINE_PASSWORD_FILE', '/etc/password'));
    expect(appConfigProblems(unmounted).join('\n')).toContain('/etc/password');
    const badNumber = structuredClone(sidecar.objects) as K8sObject[];
    for (const o of badNumber) {
      const data = at(o, 'data');
      if (o.kind === 'ConfigMap' && isRecord(data)) data.TOKEN_SECONDS = 'sixty';
    }
    expect(appConfigProblems(badNumber).join('\n')).toContain('TOKEN_SECONDS');
    const slowDrain = structuredClone(multiUser.objects) as K8sObject[];
    for (const o of slowDrain) {
      const data = at(o, 'data');
      if (o.kind === 'ConfigMap' && isRecord(data)) {
        data['config.yaml'] = String(data['config.yaml']).replace(
          'drainSeconds: 30',
          'drainSeconds: 60',
        );
      }
    }
    expect(appConfigProblems(slowDrain).join('\n')).toContain("does not exceed shutdown's 65 s");
  });
});
