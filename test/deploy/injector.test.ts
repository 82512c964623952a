/**
 * The injection webhook as shipped: the chart's `injector.enabled` (with Helm 3 and 4, both
 * TLS modes) and deploy/injector (kubectl kustomize: cert-manager, or a CA of the operator's
 * made by its certificates.sh). Every object validates against its schema (cert-manager's
 * included); the webhook configuration reaches the Service, the Service the pods, the pods
 * the serving pair; and each rendered pair (the chart's generated one, the kustomize
 * provided one) is proven end to end: the real `inject` command, started with the rendered
 * configuration, serves the rendered pair and a client that trusts only the rendered
 * caBundle, checking the Service's DNS name, gets its review answered.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { stringify } from 'yaml';
import { type InjectorConfig, loadInjectorConfig } from '../../src/config/injector';
import { patched, podReview, startWebhook } from '../support/inject';
import {
  drainEvictions,
  injectorOf,
  rolloutBounds,
  securityProblems,
  secretProblems,
} from './checks';
import { startFakeCluster } from './fake-cluster';
import {
  CHART,
  HELMS,
  type Helm,
  type K8sObject,
  ROOT,
  type Rendered,
  at,
  byKind,
  isRecord,
  records,
  renderChart,
  renderChartInCluster,
  renderKustomization,
  renderNotes,
  runTool,
  schemaProblems,
  valuesArgs,
} from './render';

type Rec = Record<string, unknown>;

const IMAGE = 'registry.example.com/vidispine-auth-proxy';
const INJECTOR = [
  `image.repository=${IMAGE}`,
  'injector.enabled=true',
  'injector.sidecar.vidispineUrl=http://vidispine.media.svc:8080',
];
const CERT_MANAGER = [...INJECTOR, 'injector.tls.certManager.enabled=true'];
const WEBHOOK_ONLY = [...INJECTOR, 'gateway.enabled=false'];
/** Where the chart records its generated pair's expiry (Helm cannot read a certificate). */
const NOT_AFTER = 'vidispine-auth-proxy/not-after';

function one(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = byKind(objects, kind).filter((o) => name === undefined || o.metadata.name === name);
  if (found.length !== 1)
    throw new Error(`${found.length} ${kind}${name ? ` ${name}` : ''}, want 1`);
  return found[0] as K8sObject;
}

const matches = (labels: unknown, selector: unknown): boolean =>
  isRecord(labels) &&
  isRecord(selector) &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const portOf = (listen: string | undefined): number => Number(listen?.split(':').pop());

/**
 * The wiring every install of the webhook must have, as lines naming what is wrong: the
 * webhook configuration (scope, failure policy, reinvocation, Service reference), the
 * Service → pods → container port chain, replicas and PDB, hardening, no RBAC, and the TLS
 * Secret mounted where the webhook reads its pair.
 */
function wiringProblems(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const mwc = one(objects, 'MutatingWebhookConfiguration');
  const hooks = records(at(mwc, 'webhooks'));
  if (hooks.length !== 1) out.push(`${hooks.length} webhooks, want 1`);
  const hook = hooks[0] ?? {};
  const want: Rec = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    reinvocationPolicy: 'IfNeeded',
    objectSelector: { matchLabels: { 'vidispine-auth-proxy/inject': 'true' } },
    rules: [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ],
  };
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(hook[k]) !== JSON.stringify(v))
      out.push(`webhook ${k} is ${JSON.stringify(hook[k])}, want ${JSON.stringify(v)}`);
  }
  const timeout = Number(hook.timeoutSeconds);
  if (!(timeout >= 1 && timeout <= 10)) out.push(`timeoutSeconds ${timeout}: keep it small`);
  const ref = at(hook, 'clientConfig', 'service') as Rec;
  if (ref.path !== '/mutate') out.push(`clientConfig path ${String(ref.path)}`);
  // Cluster-scoped: named after the Service it calls, so a webhook installed in each of two
  // namespaces keeps a configuration of its own instead of taking over the other's.
  const ownName = `${String(ref.name)}.${String(ref.namespace)}`;
  if (mwc.metadata.name !== ownName)
    out.push(`webhook configuration ${mwc.metadata.name}, want ${ownName}`);
  const service = byKind(objects, 'Service').find(
    (s) => s.metadata.name === ref.name && s.metadata.namespace === ref.namespace,
  );
  if (!service) return [...out, `no Service ${String(ref.namespace)}/${String(ref.name)}`];
  const servicePort = records(at(service, 'spec', 'ports')).find(
    (p) => p.port === (ref.port ?? 443),
  );
  const { deployment, container, env } = injectorOf(objects);
  const podLabels = at(deployment, 'spec', 'template', 'metadata', 'labels');
  if (!matches(podLabels, at(service, 'spec', 'selector')))
    out.push('the Service does not select the webhook pods');
  for (const s of byKind(objects, 'Service').filter((s) => s !== service)) {
    if (matches(podLabels, at(s, 'spec', 'selector')))
      out.push(`Service/${s.metadata.name} also selects the webhook pods`);
  }
  const containerPort = records(container.ports).find((p) => p.name === servicePort?.targetPort);
  if (containerPort?.containerPort !== portOf(env.WEBHOOK_LISTEN))
    out.push(
      `Service port ${String(ref.port)} does not reach WEBHOOK_LISTEN ${env.WEBHOOK_LISTEN}`,
    );
  if (Number(at(deployment, 'spec', 'replicas')) < 2) out.push('fewer than 2 replicas');
  // Apart on nodes and, where the cluster has zones, on zones: one node or zone down leaves a
  // replica answering. Preferences only, so a small or single-zone cluster still runs both;
  // required on nodes only on the node's network, where two on one node would share ports.
  const template = at(deployment, 'spec', 'template', 'spec');
  const onNodeNetwork = at(template, 'hostNetwork') === true;
  const spreads = (key: string): boolean =>
    records(at(template, 'topologySpreadConstraints')).some(
      (c) =>
        c.topologyKey === key &&
        c.whenUnsatisfiable === 'ScheduleAnyway' &&
        matches(podLabels, at(c, 'labelSelector', 'matchLabels')),
    ) ||
    records(
      at(
        template,
        'affinity',
        'podAntiAffinity',
        'preferredDuringSchedulingIgnoredDuringExecution',
      ),
    ).some(
      (t) =>
        at(t, 'podAffinityTerm', 'topologyKey') === key &&
        matches(podLabels, at(t, 'podAffinityTerm', 'labelSelector', 'matchLabels')),
    ) ||
    (onNodeNetwork &&
      records(
        at(
          template,
          'affinity',
          'podAntiAffinity',
          'requiredDuringSchedulingIgnoredDuringExecution',
        ),
      ).some(
        (t) => t.topologyKey === key && matches(podLabels, at(t, 'labelSelector', 'matchLabels')),
      ));
  for (const key of ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'])
    if (!spreads(key)) out.push(`replicas not spread over ${key}`);
  const pdb = byKind(objects, 'PodDisruptionBudget').find((p) =>
    matches(podLabels, at(p, 'spec', 'selector', 'matchLabels')),
  );
  // One at a time: 2 replicas keep one answering through a drain, and 1 never blocks it.
  if (at(pdb, 'spec', 'maxUnavailable') !== 1)
    out.push('no PDB letting exactly one webhook pod go at a time (maxUnavailable: 1)');
  const spec = at(deployment, 'spec', 'template', 'spec') as Rec;
  out.push(
    ...securityProblems(
      'webhook',
      isRecord(spec.securityContext) ? spec.securityContext : {},
      container,
    ),
  );
  if (spec.automountServiceAccountToken !== false) out.push('service account token mounted');
  for (const kind of ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'])
    if (byKind(objects, kind).length > 0) out.push(`${kind} rendered: the webhook needs no RBAC`);
  const probePort = (probe: string): number | undefined =>
    records(container.ports).find((p) => p.name === at(container, probe, 'httpGet', 'port'))
      ?.containerPort as number | undefined;
  if (at(container, 'readinessProbe', 'httpGet', 'path') !== '/readyz')
    out.push('readiness not /readyz');
  if (at(container, 'livenessProbe', 'httpGet', 'path') !== '/livez')
    out.push('liveness not /livez');
  for (const probe of ['readinessProbe', 'livenessProbe'])
    if (probePort(probe) !== portOf(env.OPS_LISTEN)) out.push(`${probe} not on OPS_LISTEN`);
  const mount = records(container.volumeMounts).find(
    (m) => m.mountPath === dirname(env.WEBHOOK_CERT_FILE ?? ''),
  );
  const volume = records(spec.volumes).find((v) => v.name === mount?.name);
  if (!at(volume, 'secret', 'secretName')) out.push('WEBHOOK_CERT_FILE is not on a mounted Secret');
  if (dirname(env.WEBHOOK_KEY_FILE ?? '') !== mount?.mountPath)
    out.push('WEBHOOK_KEY_FILE elsewhere');
  return out;
}

/** The mounted TLS Secret's name and the DNS name the API server calls. */
function tlsTarget(objects: readonly K8sObject[]): { secretName: string; dnsName: string } {
  const { deployment, container, env } = injectorOf(objects);
  const mount = records(container.volumeMounts).find(
    (m) => m.mountPath === dirname(env.WEBHOOK_CERT_FILE ?? ''),
  );
  const volume = records(at(deployment, 'spec', 'template', 'spec', 'volumes')).find(
    (v) => v.name === mount?.name,
  );
  const ref = at(
    one(objects, 'MutatingWebhookConfiguration'),
    'webhooks',
    0,
    'clientConfig',
    'service',
  ) as Rec;
  return {
    secretName: String(at(volume, 'secret', 'secretName')),
    dnsName: `${String(ref.name)}.${String(ref.namespace)}.svc`,
  };
}

/** Namespaced objects that are not in `namespace` (the TLS components' own included). */
function outsideNamespace(objects: readonly K8sObject[], namespace: string): string[] {
  return objects
    .filter((o) => !['Namespace', 'MutatingWebhookConfiguration'].includes(o.kind))
    .filter((o) => o.metadata.namespace !== namespace)
    .map((o) => `${o.kind}/${o.metadata.name} in ${String(o.metadata.namespace)}`);
}

/**
 * Every namespace an install of the webhook names: the Namespace object, where each of its
 * objects is, and where the webhook configuration (its name and its Service reference),
 * cert-manager's CA injection and the serving certificate's DNS names say its Service is. One install names exactly one.
 */
function namespacesNamed(objects: readonly K8sObject[]): string[] {
  const named = objects.map((o) =>
    o.kind === 'Namespace' ? o.metadata.name : String(o.metadata.namespace),
  );
  const mwc = one(objects, 'MutatingWebhookConfiguration');
  named.splice(objects.indexOf(mwc), 1, String(mwc.metadata.name.split('.')[1]));
  for (const hook of records(at(mwc, 'webhooks')))
    named.push(String(at(hook, 'clientConfig', 'service', 'namespace')));
  const from = at(mwc, 'metadata', 'annotations', 'cert-manager.io/inject-ca-from');
  if (typeof from === 'string') named.push(String(from.split('/')[0]));
  for (const cert of byKind(objects, 'Certificate')) {
    const names = at(cert, 'spec', 'dnsNames');
    for (const name of Array.isArray(names) ? names : []) named.push(String(name).split('.')[1]);
  }
  return [...new Set(named)].sort();
}

/**
 * `dir`, holding a kustomization that installs `resources` under `names` (a namespace, a
 * namePrefix, a nameSuffix) through the follow-namespace transformer of the deploy files
 * under `root`.
 */
function followingNames(
  dir: string,
  resources: string,
  names: { namespace?: string; namePrefix?: string; nameSuffix?: string },
  root = ROOT,
): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    stringify({
      resources: [relative(dir, resources)],
      ...names,
      transformers: [relative(dir, join(root, 'deploy', 'injector', 'follow-namespace'))],
    }),
  );
  return dir;
}

/** A kustomization in a new folder under `parent` that installs `resources` into `namespace`. */
function inNamespace(parent: string, resources: string, namespace: string): string {
  return followingNames(join(parent, `in-${namespace}`), resources, { namespace });
}

/** cert-manager mode: the CA injection names the Certificate that writes the mounted Secret. */
function certManagerProblems(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const mwc = one(objects, 'MutatingWebhookConfiguration');
  const from = String(at(mwc, 'metadata', 'annotations', 'cert-manager.io/inject-ca-from'));
  const [ns, name] = from.split('/');
  const cert = byKind(objects, 'Certificate').find(
    (c) => c.metadata.name === name && c.metadata.namespace === ns,
  );
  if (at(cert, 'spec', 'isCA') === true)
    out.push('inject-ca-from names the CA, not the serving certificate');
  if (!cert) return [`inject-ca-from ${from} names no rendered Certificate`];
  if (at(mwc, 'webhooks', 0, 'clientConfig', 'caBundle') !== undefined)
    out.push('a caBundle beside CA injection');
  const { secretName, dnsName } = tlsTarget(objects);
  if (at(cert, 'spec', 'secretName') !== secretName)
    out.push(
      `Certificate writes ${String(at(cert, 'spec', 'secretName'))}, the webhook mounts ${secretName}`,
    );
  const names = at(cert, 'spec', 'dnsNames');
  if (!Array.isArray(names) || !names.includes(dnsName)) out.push(`Certificate lacks ${dnsName}`);
  const ref = at(cert, 'spec', 'issuerRef') as Rec;
  if ((ref.kind ?? 'Issuer') === 'Issuer') {
    // Our own issuer: a CA whose certificate another rendered Certificate makes (so the
    // injected caBundle stays the same when the serving certificate is renewed).
    const issuer = byKind(objects, 'Issuer').find((i) => i.metadata.name === ref.name);
    const caSecret = at(issuer, 'spec', 'ca', 'secretName');
    const ca = byKind(objects, 'Certificate').find((c) => at(c, 'spec', 'secretName') === caSecret);
    if (!issuer) out.push(`Issuer ${String(ref.name)} is not rendered`);
    else if (at(ca, 'spec', 'isCA') !== true)
      out.push(`Issuer ${String(ref.name)} is not a CA issuer backed by a rendered CA Certificate`);
  }
  if (byKind(objects, 'Secret').length > 0) out.push('a Secret rendered beside cert-manager');
  // cert-manager's own webhook refuses a Certificate whose commonName is over 64 bytes (RFC
  // 5280's bound): the install would fail on it.
  for (const c of byKind(objects, 'Certificate')) {
    const cn = at(c, 'spec', 'commonName');
    if (typeof cn === 'string' && Buffer.byteLength(cn) > 64)
      out.push(`Certificate ${c.metadata.name}: commonName of ${Buffer.byteLength(cn)} bytes`);
  }
  return out;
}

/**
 * The rendered pair (generated by the chart, or made by certificates.sh): the caBundle is
 * the mounted Secret's ca.crt.
 */
function renderedPair(objects: readonly K8sObject[]): {
  caPem: string;
  certPem: string;
  keyPem: string;
} {
  const { secretName } = tlsTarget(objects);
  const secret = one(objects, 'Secret', secretName);
  const data = (key: string): string =>
    Buffer.from(String(at(secret, 'data', key)), 'base64').toString('utf8');
  const caBundle = at(
    one(objects, 'MutatingWebhookConfiguration'),
    'webhooks',
    0,
    'clientConfig',
    'caBundle',
  );
  expect(caBundle).toBe(at(secret, 'data', 'ca.crt'));
  // ECDSA P-256, as cert-manager's: every handshake signs with the serving key.
  const p256 = { namedCurve: 'prime256v1' };
  expect(createPrivateKey(data('tls.key')).asymmetricKeyDetails).toEqual(p256);
  expect(new X509Certificate(data('ca.crt')).publicKey.asymmetricKeyDetails).toEqual(p256);
  return { caPem: data('ca.crt'), certPem: data('tls.crt'), keyPem: data('tls.key') };
}

/** The webhook container's configuration, as its own loader reads it (stand-in files for the pair). */
function loadsItsConfiguration(objects: readonly K8sObject[]): InjectorConfig {
  const { env } = injectorOf(objects);
  const dir = mkdtempSync(join(tmpdir(), 'vap-injector-config-'));
  try {
    const local = {
      ...env,
      WEBHOOK_CERT_FILE: join(dir, 'tls.crt'),
      WEBHOOK_KEY_FILE: join(dir, 'tls.key'),
    };
    const config = loadInjectorConfig({ env: local });
    expect(config.sidecar.image).toMatch(/^registry\.example\.com\/vidispine-auth-proxy:/);
    return config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(HELMS)('$name: chart with injector.enabled', (helm: Helm) => {
  describe.each([
    ['a chart-generated CA', INJECTOR],
    ['cert-manager', CERT_MANAGER],
  ])('TLS from %s', (_mode, set) => {
    let rendered: Rendered;
    beforeAll(() => {
      rendered = renderChart(helm, CHART, [], { set: [...set, 'gateway.enabled=false'] });
    });

    it('passes helm lint --strict and the values schema', () => {
      const r = runTool(helm.bin, ['lint', '--strict', CHART, ...valuesArgs([], set)]);
      expect(`${r.stdout}${r.stderr}`).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.status).toBe(0);
    });

    it('renders objects that validate against the Kubernetes and cert-manager schemas', () => {
      expect(rendered.objects.map((o) => o.kind).sort()).toEqual(
        set === CERT_MANAGER
          ? [
              'Certificate',
              'Certificate',
              'Deployment',
              'Issuer',
              'Issuer',
              'MutatingWebhookConfiguration',
              'PodDisruptionBudget',
              'Service',
              'ServiceAccount',
            ]
          : [
              'Deployment',
              'MutatingWebhookConfiguration',
              'PodDisruptionBudget',
              'Secret',
              'Service',
              'ServiceAccount',
            ],
      );
      expect(schemaProblems(rendered.objects)).toEqual([]);
      expect(secretProblems(rendered)).toEqual([]);
    });

    it('wires the webhook configuration to the Service, pods and serving pair', () => {
      expect(wiringProblems(rendered.objects)).toEqual([]);
      loadsItsConfiguration(rendered.objects);
      if (set === CERT_MANAGER) expect(certManagerProblems(rendered.objects)).toEqual([]);
    });
  });

  it('uses an issuer of yours instead of a self-signed one', () => {
    const { objects } = renderChart(helm, CHART, [], {
      set: [
        ...CERT_MANAGER,
        'injector.tls.certManager.issuerRef.name=corp-ca',
        'injector.tls.certManager.issuerRef.kind=ClusterIssuer',
      ],
    });
    expect(byKind(objects, 'Issuer')).toEqual([]);
    expect(at(one(objects, 'Certificate'), 'spec', 'issuerRef')).toEqual({
      name: 'corp-ca',
      kind: 'ClusterIssuer',
    });
    expect(certManagerProblems(objects)).toEqual([]);
  });

  describe("where the control plane reaches the webhook's pods", () => {
    const webhookPod = (objects: readonly K8sObject[]): Rec =>
      at(injectorOf(objects).deployment, 'spec', 'template', 'spec') as Rec;

    it('serves on injector.port: container port, WEBHOOK_LISTEN and Service targetPort follow it, the API server still calls 443', () => {
      // 10250: the port GKE private clusters' control plane already reaches nodes and pods on.
      const { objects } = renderChart(helm, CHART, [], {
        set: [...WEBHOOK_ONLY, 'injector.port=10250'],
      });
      const { container, env } = injectorOf(objects);
      expect(records(container.ports).find((p) => p.name === 'https')?.containerPort).toBe(10250);
      expect(env.WEBHOOK_LISTEN).toBe('[::]:10250');
      const hook = at(one(objects, 'MutatingWebhookConfiguration'), 'webhooks', 0);
      expect(at(hook, 'clientConfig', 'service', 'port')).toBe(443);
      expect(wiringProblems(objects)).toEqual([]);
      expect(schemaProblems(objects)).toEqual([]);
      expect(loadsItsConfiguration(objects).webhook.listen).toEqual(
        expect.objectContaining({ port: 10250 }),
      );
    });

    it("keeps the pods off the node's network by default, on 8443", () => {
      const { objects } = renderChart(helm, CHART, [], { set: WEBHOOK_ONLY });
      const pod = webhookPod(objects);
      expect([pod.hostNetwork, pod.dnsPolicy]).toEqual([undefined, undefined]);
      expect(injectorOf(objects).env.WEBHOOK_LISTEN).toBe('[::]:8443');
    });

    it("injector.hostNetwork puts them on the node's network, one per node, still resolving cluster names", () => {
      const { objects } = renderChart(helm, CHART, [], {
        set: [...WEBHOOK_ONLY, 'injector.hostNetwork=true', 'injector.port=9443'],
      });
      const pod = webhookPod(objects);
      expect(pod.hostNetwork).toBe(true);
      // Without it a pod on the node's network resolves with the node's resolv.conf.
      expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
      const podLabels = at(
        injectorOf(objects).deployment,
        'spec',
        'template',
        'metadata',
        'labels',
      );
      const required = records(
        at(pod, 'affinity', 'podAntiAffinity', 'requiredDuringSchedulingIgnoredDuringExecution'),
      );
      expect(
        required.some(
          (t) =>
            t.topologyKey === 'kubernetes.io/hostname' &&
            matches(podLabels, at(t, 'labelSelector', 'matchLabels')),
        ),
      ).toBe(true);
      expect(injectorOf(objects).env.WEBHOOK_LISTEN).toBe('[::]:9443');
      expect(wiringProblems(objects)).toEqual([]);
      expect(schemaProblems(objects)).toEqual([]);
    });
    it.each([1, 2, 3])(
      'injector.hostNetwork with %d replica(s): a rollout keeps one answering, and moves on with no node spare',
      (replicas) => {
        const { objects } = renderChart(helm, CHART, [], {
          set: [...WEBHOOK_ONLY, 'injector.hostNetwork=true', `injector.replicaCount=${replicas}`],
        });
        const { deployment } = injectorOf(objects);
        const bounds = rolloutBounds(at(deployment, 'spec', 'strategy'), replicas);
        // With failurePolicy Fail no labelled pod is created while none answers (with Ignore,
        // it starts without its proxy): a lone replica is replaced only once its successor,
        // on another node, is ready; where there is none the rollout waits, the old one serving.
        expect(bounds.fewestReady).toBeGreaterThanOrEqual(1);
        // One per node (the ports): with a node per replica and none spare, only taking one
        // down first lets the rollout through; with one replica, waiting beats an outage.
        expect(bounds.removesFirst).toBe(replicas > 1);
      },
    );
  });

  describe("cert-manager's renewal and the expiry alert", () => {
    /** Seconds under which VidispineAuthProxyWebhookCertificateExpiring warns, as rendered. */
    const warnsUnder = (): number => {
      const { objects } = renderChart(helm, CHART, [], {
        set: [...CERT_MANAGER, 'metrics.prometheusRule.enabled=true'],
      });
      const rules = records(at(one(objects, 'PrometheusRule'), 'spec', 'groups')).flatMap((g) =>
        records(g.rules),
      );
      const warning = rules.find(
        (r) =>
          r.alert === 'VidispineAuthProxyWebhookCertificateExpiring' &&
          at(r, 'labels', 'severity') === 'warning',
      );
      const margin = /< (\d+) \* 86400\s*$/.exec(String(warning?.expr));
      if (!margin) throw new Error(`no warning margin in ${String(warning?.expr)}`);
      return Number(margin[1]) * 86400;
    };
    const hours = (seconds: number): string => `${seconds / 3600}h`;
    const renderWith = (values: readonly string[]): ReturnType<typeof runTool> =>
      runTool(helm.bin, [
        'template',
        'vap',
        CHART,
        ...valuesArgs([], [...CERT_MANAGER, ...values]),
      ]);

    it("renews by default before the warning's margin, with an hour to reach the webhook", () => {
      const { objects } = renderChart(helm, CHART, [], { set: CERT_MANAGER });
      const spec = at(one(objects, 'Certificate', 'vap-vidispine-auth-proxy-injector'), 'spec');
      expect(spec).toMatchObject({ duration: '2160h', renewBefore: '360h' });
      expect(360 * 3600).toBeGreaterThanOrEqual(warnsUnder() + 3600);
    });

    it('refuses a renewBefore inside the margin, naming it; an hour beyond it renders', () => {
      const margin = warnsUnder();
      const refused = renderWith([`injector.tls.certManager.renewBefore=${hours(margin)}`]);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain(
        `injector.tls.certManager.renewBefore: "${hours(margin)}" renews the webhook's certificate less than 14 days before it expires, where VidispineAuthProxyWebhookCertificateExpiring warns, so the warning would fire before every renewal: give at least ${hours(margin + 3600)}`,
      );
      expect(renderWith(['injector.tls.certManager.renewBefore=336h59m59s']).stderr).toContain(
        'renewBefore: "336h59m59s" renews',
      );
      const accepted = renderWith([`injector.tls.certManager.renewBefore=${hours(margin + 3600)}`]);
      expect(accepted.stderr).toBe('');
      expect(accepted.status).toBe(0);
    });

    it('refuses a duration not longer than renewBefore, which cert-manager refuses, naming both', () => {
      const r = renderWith([
        'injector.tls.certManager.duration=336h',
        'injector.tls.certManager.renewBefore=360h',
      ]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(
        'injector.tls.certManager.duration: "336h" is not longer than renewBefore ("360h"), which cert-manager refuses',
      );
      expect(
        renderWith([
          'injector.tls.certManager.duration=360h1s',
          'injector.tls.certManager.renewBefore=360h',
        ]).status,
      ).toBe(0);
    });
  });

  it.each<[string, string[], string]>([
    ['the default name', [], 'vidispine-auth-proxy-injector'],
    ...[54, 55, 61].map((n): [string, string[], string] => [
      `a ${n}-character nameOverride, as it was named`,
      [`nameOverride=${'a'.repeat(n)}`],
      `${'a'.repeat(n)}-injector`.slice(0, 63).replace(/-$/, ''),
    ]),
    ...[62, 63].map((n): [string, string[], string] => [
      `a ${n}-character nameOverride, which lost the whole suffix`,
      [`nameOverride=${'a'.repeat(n)}`],
      `${'a'.repeat(54)}-injector`,
    ]),
  ])(
    "keeps the gateway and the webhook apart with %s: neither selects the other's pods",
    (_what, more, webhookName) => {
      const { objects } = renderChart(helm, CHART, [], { set: [...INJECTOR, ...more] });
      const labels = at(injectorOf(objects).deployment, 'spec', 'selector', 'matchLabels');
      expect(at(labels, 'app.kubernetes.io/name')).toBe(webhookName);
      expect(wiringProblems(objects)).toEqual([]);
      const gateway = byKind(objects, 'Deployment').find(
        (d) => d !== injectorOf(objects).deployment,
      );
      const gatewayLabels = at(gateway, 'spec', 'selector', 'matchLabels');
      expect(matches(at(gateway, 'spec', 'template', 'metadata', 'labels'), labels)).toBe(false);
      expect(
        matches(
          at(injectorOf(objects).deployment, 'spec', 'template', 'metadata', 'labels'),
          gatewayLabels,
        ),
      ).toBe(false);
    },
  );

  it('keeps the gateway and the webhook apart: neither selects the other pods', () => {
    const { objects } = renderChart(helm, CHART, [], { set: INJECTOR });
    expect(byKind(objects, 'Deployment')).toHaveLength(2);
    expect(wiringProblems(objects)).toEqual([]);
    const gateway = byKind(objects, 'Deployment').find((d) => d !== injectorOf(objects).deployment);
    const gatewayPods = at(gateway, 'spec', 'template', 'metadata', 'labels');
    const injectorPods = at(
      injectorOf(objects).deployment,
      'spec',
      'template',
      'metadata',
      'labels',
    );
    for (const o of objects) {
      const selector =
        at(o, 'spec', 'selector', 'matchLabels') ??
        at(o, 'spec', 'podSelector', 'matchLabels') ??
        (o.kind === 'Service' ? at(o, 'spec', 'selector') : undefined);
      if (selector === undefined) continue;
      expect([o.kind, matches(gatewayPods, selector) && matches(injectorPods, selector)]).toEqual([
        o.kind,
        false,
      ]);
    }
  });

  const LONG_NAMES = [
    ['a release name that fills 63 characters', 'media-platform-production-vidispine-gateway1', []],
    ['one cut at a dash', 'media-platform-production-vidispine-gateway', []],
    ['a 63-character fullnameOverride', 'vap', [`fullnameOverride=${'a'.repeat(63)}`]],
  ] as const;

  it.each(LONG_NAMES)(
    'gives the gateway and the webhook names of their own with %s',
    (_what, release, more) => {
      const { objects } = renderChart(helm, CHART, [], { release, set: [...INJECTOR, ...more] });
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
      // Each a DNS-1123 subdomain; a Service's and a Deployment's a label (63 characters at most).
      for (const o of objects) expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      for (const o of [...byKind(objects, 'Service'), ...byKind(objects, 'Deployment')])
        expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
      expect(injectorOf(objects).deployment.metadata.name).toMatch(/-injector$/);
      expect(wiringProblems(objects)).toEqual([]);
    },
  );

  it.each(LONG_NAMES)(
    'gives cert-manager Certificates it accepts with %s',
    (_what, release, more) => {
      const { objects } = renderChart(helm, CHART, [], {
        release,
        set: [...CERT_MANAGER, ...more],
      });
      expect(certManagerProblems(objects)).toEqual([]);
      expect(wiringProblems(objects)).toEqual([]);
    },
  );

  it("passes the administrator's and the RunAs account's credentials to the webhook by reference", () => {
    const { objects } = renderChart(helm, CHART, [], {
      set: [
        ...WEBHOOK_ONLY,
        'injector.sidecar.admin.user=admin',
        'injector.sidecar.admin.secret=vidispine-admin',
        'injector.sidecar.admin.accessKeyId=VSIDADMIN0000000001',
        'injector.sidecar.runAs.user=svc-runas',
        'injector.sidecar.runAs.secret=vidispine-runas',
        'injector.sidecar.runAs.key=runas-password',
      ],
    });
    expect(secretProblems({ text: '', objects })).toEqual([]);
    const { sidecar } = loadsItsConfiguration(objects);
    expect(sidecar.admin).toEqual({
      user: 'admin',
      secret: 'vidispine-admin',
      key: 'access-key',
      accessKeyId: 'VSIDADMIN0000000001',
    });
    expect(sidecar.runAs).toEqual({
      user: 'svc-runas',
      secret: 'vidispine-runas',
      key: 'runas-password',
    });
  });

  it('passes names with a $ in them to the webhook as written (Kubernetes expands $(NAME) and $$ in env values)', () => {
    const admin = { user: 'ad$$min$(HOME)$', accessKeyId: 'VSID$(SIDECAR_IMAGE)' };
    const { objects } = renderChart(helm, CHART, [], {
      set: [
        ...WEBHOOK_ONLY,
        `injector.sidecar.admin.user=${admin.user}`,
        'injector.sidecar.admin.secret=vidispine-admin',
        `injector.sidecar.admin.accessKeyId=${admin.accessKeyId}`,
      ],
    });
    expect(loadsItsConfiguration(objects).sidecar.admin).toMatchObject(admin);
  });

  it("NOTES name the credential annotations, and the webhook's accounts when it has them", () => {
    const notes = renderNotes(
      helm,
      [],
      [
        ...WEBHOOK_ONLY,
        // admin: null, Helm's way to drop a map of defaults, is no administrator account.
        'injector.sidecar.admin=null',
        'injector.sidecar.runAs.user=svc-runas',
        'injector.sidecar.runAs.secret=vidispine-runas',
      ],
    );
    expect(notes).toContain('vidispine-auth-proxy/access-key-id: <VSID...>');
    expect(notes).toContain(
      'vidispine-auth-proxy/credential: runas: minted by svc-runas, Secret "vidispine-runas"',
    );
    expect(notes).not.toContain('credential: admin');
  });

  describe("NOTES say what scrapes the webhook's metrics", () => {
    it('the ServiceMonitor the chart renders, when it renders one, and the PrometheusRule', () => {
      const set = [
        ...WEBHOOK_ONLY,
        'metrics.serviceMonitor.enabled=true',
        'metrics.prometheusRule.enabled=true',
      ];
      const notes = renderNotes(helm, [], set);
      const monitor = one(renderChart(helm, CHART, [], { set }).objects, 'ServiceMonitor');
      expect(notes).toContain(
        `Its metrics (reviews, serving certificate expiry and reloads) on port injector-ops are scraped by the ServiceMonitor "${monitor.metadata.name}" (job vidispine-auth-proxy-injector); the PrometheusRule "vap-vidispine-auth-proxy" alerts on them (VidispineAuthProxyWebhook*).`,
      );
      expect(monitor.metadata.name).toBe('vap-vidispine-auth-proxy-injector');
    });

    it("deploy/monitoring's PodMonitor by the label the webhook's pods carry, or that nothing does", () => {
      // injector.sidecar: null, Helm's way to drop a map of defaults, is no injector.sidecar.*
      // at all: the webhook's own defaults (no Vidispine URL, the platform's user).
      const noSidecarDefaults = [
        ...WEBHOOK_ONLY.filter((s) => !s.startsWith('injector.sidecar.')),
        'injector.sidecar=null',
      ];
      const podMonitor = one(
        renderKustomization(join(ROOT, 'deploy', 'monitoring')).objects,
        'PodMonitor',
        'vidispine-auth-proxy-injector',
      );
      expect(at(podMonitor, 'spec', 'selector', 'matchLabels')).toEqual({
        'vidispine-auth-proxy/injector-metrics': 'true',
      });
      const { objects } = renderChart(helm, CHART, [], { set: noSidecarDefaults });
      const podLabels = at(one(objects, 'Deployment'), 'spec', 'template', 'metadata', 'labels');
      expect(podLabels).toMatchObject({ 'vidispine-auth-proxy/injector-metrics': 'true' });
      const { sidecar } = loadsItsConfiguration(objects);
      expect(sidecar.vidispineUrl).toBeUndefined();
      expect(sidecar.uid).toBeNull();
      const notes = renderNotes(helm, [], noSidecarDefaults);
      expect(notes).toContain('(injector.sidecar.vidispineUrl is not set)');
      expect(notes).toContain(
        `Its metrics (reviews, serving certificate expiry and reloads) on port injector-ops: its pods carry vidispine-auth-proxy/injector-metrics: "true", which deploy/monitoring's PodMonitor vidispine-auth-proxy-injector scrapes (or set metrics.serviceMonitor.enabled=true).`,
      );
      const dir = mkdtempSync(join(tmpdir(), 'vap-notes-values-'));
      try {
        const optOut = join(dir, 'opt-out.yaml');
        writeFileSync(
          optOut,
          "injector:\n  podLabels:\n    vidispine-auth-proxy/injector-metrics: 'false'\n",
        );
        expect(renderNotes(helm, [optOut], WEBHOOK_ONLY)).toContain(
          'Nothing scrapes its metrics (injector.podLabels sets vidispine-auth-proxy/injector-metrics: "false" and metrics.serviceMonitor.enabled is false): a serving certificate that runs out goes unannounced.',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it.each(['admin', 'runAs'])(
    'refuses an %s account without its Secret, saying what to set',
    (account) => {
      const r = runTool(helm.bin, [
        'template',
        'vap',
        CHART,
        ...valuesArgs([], [...INJECTOR, `injector.sidecar.${account}.user=someone`]),
      ]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`injector.sidecar.${account}.secret is required`);
    },
  );

  it.each([
    ['a Vidispine URL that is no URL', 'injector.sidecar.vidispineUrl=notaurl', /vidispineUrl/],
    [
      'a Vidispine URL ending in /API',
      'injector.sidecar.vidispineUrl=http://vidispine:8080/API/',
      'injector.sidecar.vidispineUrl: "http://vidispine:8080/API/" ends in /API: give the base URL without /API (e.g. http://vidispine:8080)',
    ],
    [
      'a CPU request above its limit',
      'injector.sidecar.resources.requests.cpu=600m',
      'injector.sidecar.resources.requests.cpu: 600m is above the cpu limit 500m (sidecar.resources.limits.cpu): lower the request or raise the limit',
    ],
    [
      'a memory request above its limit, in other units',
      'injector.sidecar.resources.requests.memory=0.25Gi',
      'injector.sidecar.resources.requests.memory: 0.25Gi is above the memory limit 192Mi (sidecar.resources.limits.memory)',
    ],
    [
      "a request of sidecar.resources above the limit the webhook's own values set",
      'injector.sidecar.resources.limits.cpu=20m',
      'sidecar.resources.requests.cpu: 25m is above the cpu limit 20m (injector.sidecar.resources.limits.cpu)',
    ],
    [
      'a request of sidecar.resources above its limit, which the webhook would inject',
      'sidecar.resources.requests.memory=200Mi',
      'sidecar.resources.requests.memory: 200Mi is above the memory limit 192Mi (sidecar.resources.limits.memory)',
    ],
    [
      "a request of the webhook's own container above its limit",
      'injector.resources.requests.cpu=1',
      'injector.resources.requests.cpu: 1 is above the cpu limit 500m (injector.resources.limits.cpu)',
    ],
    [
      'a quantity Kubernetes refuses (no suffix K)',
      'injector.sidecar.resources.limits.cpu=1K',
      /resources.limits.cpu/,
    ],
    [
      "the ops port on the webhook's own 8443",
      'injector.opsPort=8443',
      "injector.opsPort: 8443 is also injector.port, the webhook's HTTPS port: give each a port of its own",
    ],
    [
      "the ops port on the webhook's HTTPS port moved by injector.port",
      'injector.port=9090',
      "injector.opsPort: 9090 is also injector.port, the webhook's HTTPS port: give each a port of its own",
    ],
    // Helm's own values.schema.json check; Helm 3 and 4 word it differently.
    [
      'a port of 0',
      'injector.port=0',
      /injector[./]port'?: (Must be greater than or equal to 1024|minimum: got 0, want 1,?024)/,
    ],
    [
      'a port above 65535',
      'injector.port=65536',
      /injector[./]port'?: (Must be less than or equal to 65535|maximum: got 65,?536, want 65,?535)/,
    ],
    [
      'a port as text',
      'injector.port=https',
      /injector[./]port'?: (Invalid type. Expected: integer|got string, want integer)/,
    ],
    // Non-root without capabilities: the webhook cannot bind a port below 1024.
    [
      'a privileged port',
      'injector.port=443',
      /injector[./]port'?: (Must be greater than or equal to 1024|minimum: got 443, want 1,?024)/,
    ],
    // The ops listener runs in the same container: below 1024 it could never start either.
    [
      'a privileged ops port',
      'injector.opsPort=1023',
      /injector[./]opsPort'?: (Must be greater than or equal to 1024|minimum: got 1,?023, want 1,?024)/,
    ],
    [
      'hostNetwork as text',
      'injector.hostNetwork=yes',
      /injector[./]hostNetwork'?: (Invalid type. Expected: boolean|got string, want boolean)/,
    ],
    [
      "the node's kubelet port on the node's network",
      'injector.hostNetwork=true,injector.port=10250',
      "injector.port: 10250 is the kubelet's port on every node, which injector.hostNetwork would share: choose another (10250 serves GKE private clusters only off the node's network)",
    ],
    // The ops listener is bound on the node too: on 10250 it could never start.
    [
      "the node's kubelet port as the ops port on the node's network",
      'injector.hostNetwork=true,injector.opsPort=10250',
      "injector.opsPort: 10250 is the kubelet's port on every node, which injector.hostNetwork would share: choose another",
    ],
  ])('refuses %s, naming the value', (_what, value, message) => {
    const r = runTool(helm.bin, [
      'template',
      'vap',
      CHART,
      ...valuesArgs([], [...INJECTOR, value]),
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it.each([
    [
      // sidecar: null, Helm's way to drop a map of defaults: injector.sidecar.resources alone.
      'accepts requests up to their limits in any unit it compares, as the webhook does',
      [
        'sidecar=null',
        'injector.sidecar.resources.requests.cpu=0.5',
        'injector.sidecar.resources.limits.cpu=500m',
        'injector.sidecar.resources.requests.memory=192Mi',
        'injector.sidecar.resources.limits.memory=0.1875Gi',
      ],
      { requests: { cpu: '0.5', memory: '192Mi' }, limits: { cpu: '500m', memory: '0.1875Gi' } },
    ],
    [
      'injects sidecar.resources, each quantity injector.sidecar.resources gives in its place',
      [
        'sidecar.resources.requests.cpu=30m',
        'sidecar.resources.limits.memory=256Mi',
        'injector.sidecar.resources.requests.memory=128Mi',
        'injector.sidecar.resources.limits.cpu=',
      ],
      { requests: { cpu: '30m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    ],
  ])('%s', (_what, set, resources) => {
    const rendered = renderChart(helm, CHART, [], { set: [...WEBHOOK_ONLY, ...set] });
    expect(loadsItsConfiguration(rendered.objects).sidecar.resources).toEqual(resources);
  });

  it.each([
    ['a chart-generated CA', WEBHOOK_ONLY],
    ['cert-manager', [...CERT_MANAGER, 'gateway.enabled=false']],
  ])(
    'gives releases in two namespaces (TLS from %s) a webhook configuration each, calling its own Service',
    (_mode, set) => {
      const installs = [
        ['vap', 'media'],
        ['vap', 'studio'],
        ['tools', 'studio'],
      ].map(([release, namespace]) => renderChart(helm, CHART, [], { release, namespace, set }));
      expect(
        installs.map(({ objects }) => one(objects, 'MutatingWebhookConfiguration').metadata.name),
      ).toEqual([
        'vap-vidispine-auth-proxy-injector.media',
        'vap-vidispine-auth-proxy-injector.studio',
        'tools-vidispine-auth-proxy-injector.studio',
      ]);
      for (const { objects } of installs) {
        expect(wiringProblems(objects)).toEqual([]);
        if (set !== WEBHOOK_ONLY) expect(certManagerProblems(objects)).toEqual([]);
      }
    },
  );

  it.each([1, 2])('lets a node drain evict one webhook pod of %d, never more', (replicas) => {
    const rendered = renderChart(helm, CHART, [], {
      set: [...WEBHOOK_ONLY, `injector.replicaCount=${replicas}`],
    });
    const spec = at(one(rendered.objects, 'PodDisruptionBudget'), 'spec');
    expect(drainEvictions(spec, replicas)).toBe(1);
  });

  it('reuses the generated CA and pair on upgrade (lookup), and makes them at the first install', async () => {
    const first = await startFakeCluster([]);
    let installed: Rendered;
    try {
      installed = await renderChartInCluster(helm, CHART, first.kubeconfig, { set: WEBHOOK_ONLY });
      expect(first.requests).toContain(
        '/api/v1/namespaces/media/secrets/vap-vidispine-auth-proxy-injector-tls',
      );
    } finally {
      await first.close();
    }
    const secret = one(installed.objects, 'Secret');
    // As the first install left it in the cluster: owned by the release.
    const stored = {
      ...secret,
      metadata: {
        ...secret.metadata,
        annotations: {
          ...(secret.metadata.annotations as Record<string, string>),
          'meta.helm.sh/release-name': 'vap',
          'meta.helm.sh/release-namespace': 'media',
        },
      },
    };
    const cluster = await startFakeCluster([stored]);
    try {
      const upgraded = await renderChartInCluster(helm, CHART, cluster.kubeconfig, {
        set: WEBHOOK_ONLY,
      });
      expect(one(upgraded.objects, 'Secret')).toEqual(secret);
      expect(renderedPair(upgraded.objects)).toEqual(renderedPair(installed.objects));
      // Without the cluster (helm template) a new CA is made each time: the lookup is what keeps it.
      const fresh = renderChart(helm, CHART, [], { set: WEBHOOK_ONLY });
      expect(renderedPair(fresh.objects).caPem).not.toBe(renderedPair(installed.objects).caPem);
    } finally {
      await cluster.close();
    }
  });

  const DAY = 24 * 3600 * 1000;
  it.each([
    ['has no recorded expiry', undefined, { renewed: true, oldCaTrusted: true }],
    ['has expired', -DAY, { renewed: true, oldCaTrusted: false }],
    ['expires within 30 days', 29 * DAY, { renewed: true, oldCaTrusted: true }],
    ['expires in more than 30 days', 31 * DAY, { renewed: false, oldCaTrusted: true }],
  ])(
    'on upgrade, when the stored pair %s, renews it as its recorded expiry says',
    async (_what, expiresIn, expected) => {
      const stored = one(renderChart(helm, CHART, [], { set: WEBHOOK_ONLY }).objects, 'Secret');
      const annotations: Record<string, string> = {
        'meta.helm.sh/release-name': 'vap',
        'meta.helm.sh/release-namespace': 'media',
      };
      if (expiresIn !== undefined)
        annotations[NOT_AFTER] = new Date(Date.now() + expiresIn)
          .toISOString()
          .replace(/\.\d+Z$/, 'Z');
      const cluster = await startFakeCluster([
        { ...stored, metadata: { ...stored.metadata, annotations } },
      ]);
      try {
        const upgraded = await renderChartInCluster(helm, CHART, cluster.kubeconfig, {
          set: WEBHOOK_ONLY,
        });
        const secret = one(upgraded.objects, 'Secret');
        const pem = (o: unknown, key: string): string =>
          Buffer.from(String(at(o, 'data', key)), 'base64').toString('utf8');
        const caBundle = Buffer.from(
          String(
            at(
              one(upgraded.objects, 'MutatingWebhookConfiguration'),
              'webhooks',
              0,
              'clientConfig',
              'caBundle',
            ),
          ),
          'base64',
        ).toString('utf8');
        const trusted = (
          caBundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
        ).map((ca) => new X509Certificate(ca));
        const trusts = (certPem: string): boolean =>
          trusted.some((ca) => new X509Certificate(certPem).verify(ca.publicKey));
        // The API server trusts the pair the webhook serves now, and the one replicas may still
        // serve until the kubelet updates their files, unless that one has expired.
        expect(trusts(pem(secret, 'tls.crt'))).toBe(true);
        expect(trusts(pem(stored, 'tls.crt'))).toBe(expected.oldCaTrusted);
        if (expected.renewed) {
          for (const key of ['ca.crt', 'tls.crt', 'tls.key'])
            expect(at(secret, 'data', key)).not.toBe(at(stored, 'data', key));
          // The new expiry is recorded: the default validityDays (3650) from now.
          const notAfter = Date.parse(String(at(secret, 'metadata', 'annotations', NOT_AFTER)));
          expect(Math.abs(notAfter - (Date.now() + 3650 * DAY))).toBeLessThan(DAY);
          for (const key of ['ca.crt', 'tls.crt'])
            expect(
              Math.abs(Date.parse(new X509Certificate(pem(secret, key)).validTo) - notAfter),
            ).toBeLessThan(60_000);
        } else {
          expect(renderedPair(upgraded.objects).certPem).toBe(pem(stored, 'tls.crt'));
          expect(at(secret, 'metadata', 'annotations', NOT_AFTER)).toBe(annotations[NOT_AFTER]);
        }
      } finally {
        await cluster.close();
      }
    },
  );
});

/**
 * The real webhook, started with the rendered Deployment's environment (listening on
 * loopback, the rendered pair at the test's own paths), answers a review from a client that
 * trusts only the rendered caBundle and checks the Service's DNS name, as the API server does.
 */
async function servesTheRenderedPair(objects: readonly K8sObject[]): Promise<void> {
  const { caPem, certPem, keyPem } = renderedPair(objects);
  const { dnsName } = tlsTarget(objects);
  const cert = new X509Certificate(certPem);
  expect(cert.checkHost(dnsName)).toBe(dnsName);
  expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
  const { env } = injectorOf(objects);
  const { WEBHOOK_CERT_FILE: _cert, WEBHOOK_KEY_FILE: _key, ...deployed } = env;
  const webhook = await startWebhook(
    { ...deployed, WEBHOOK_LISTEN: '127.0.0.1:0', OPS_LISTEN: '127.0.0.1:0' },
    { caPem, pair: { certPem, keyPem }, servername: dnsName },
  );
  try {
    const pod = {
      metadata: {
        labels: { 'vidispine-auth-proxy/inject': 'true' },
        annotations: {
          'vidispine-auth-proxy/user': 'shop',
          'vidispine-auth-proxy/secret': 'shop-vidispine',
        },
      },
      spec: { containers: [{ name: 'shop', image: 'registry.example.com/shop:2' }] },
    };
    const result = patched(pod, await webhook.review(podReview(pod)));
    expect(records(at(result, 'spec', 'initContainers'))[0]).toMatchObject({
      name: 'vidispine-auth-proxy',
      image: `${IMAGE}:0.1.0`,
      resources: {
        requests: { cpu: '25m', memory: '96Mi' },
        limits: { cpu: '500m', memory: '192Mi' },
      },
    });
  } finally {
    await webhook.stop();
  }
}

describe('the chart-generated CA, end to end', () => {
  it('the real webhook serves the rendered pair to a client trusting only the rendered caBundle', async () => {
    const helm = HELMS[1] as Helm;
    const { objects } = renderChart(helm, CHART, [], {
      set: [...INJECTOR, 'gateway.enabled=false'],
    });
    await servesTheRenderedPair(objects);
  });
});

describe('kubectl kustomize deploy/injector', () => {
  const DIR = join(ROOT, 'deploy', 'injector');

  it('renders valid objects wired for cert-manager, with a configuration the webhook accepts', () => {
    const rendered = renderKustomization(DIR);
    expect(schemaProblems(rendered.objects)).toEqual([]);
    expect(secretProblems(rendered)).toEqual([]);
    expect(wiringProblems(rendered.objects)).toEqual([]);
    expect(certManagerProblems(rendered.objects)).toEqual([]);
  });

  it('base and the cert-manager component in your own kustomization leave your cert-manager objects where they are', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-own-'));
    try {
      const mine = {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'shop', namespace: 'shop' },
        spec: {
          secretName: 'shop-tls',
          dnsNames: ['shop.example.com'],
          issuerRef: { name: 'corp' },
        },
      };
      writeFileSync(join(dir, 'shop.yaml'), stringify(mine));
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        stringify({
          resources: [relative(dir, join(DIR, 'base')), 'shop.yaml'],
          components: [relative(dir, join(DIR, 'cert-manager'))],
        }),
      );
      const { objects } = renderKustomization(dir);
      expect(one(objects, 'Certificate', 'shop')).toEqual(mine);
      const webhooks = objects.filter((o) => o.metadata.name !== 'shop');
      expect(outsideNamespace(webhooks, 'vidispine-auth-proxy')).toEqual([]);
      expect(certManagerProblems(webhooks)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('your namespace: with follow-namespace under transformers: moves every object and every reference to the webhook', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-namespace-'));
    try {
      const rendered = renderKustomization(inNamespace(dir, DIR, 'media-tools'));
      expect(namespacesNamed(rendered.objects)).toEqual(['media-tools']);
      expect(schemaProblems(rendered.objects)).toEqual([]);
      expect(wiringProblems(rendered.objects)).toEqual([]);
      expect(certManagerProblems(rendered.objects)).toEqual([]);
      expect(tlsTarget(rendered.objects).dnsName).toBe(
        'vidispine-auth-proxy-injector.media-tools.svc',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each<[string, Record<string, string>]>([
    ['namePrefix', { namePrefix: 'team-a-' }],
    ['nameSuffix', { nameSuffix: '-v2' }],
    [
      'both, and a namespace',
      { namePrefix: 'team-a-', nameSuffix: '-v2', namespace: 'media-tools' },
    ],
  ])(
    'your %s: with follow-namespace under transformers: the TLS names, the CA injection, the issuers and the configuration name follow the Service',
    (what, names) => {
      const dir = mkdtempSync(join(tmpdir(), 'vap-injector-names-'));
      try {
        const { objects } = renderKustomization(followingNames(dir, DIR, names));
        const service = `${names.namePrefix ?? ''}vidispine-auth-proxy-injector${names.nameSuffix ?? ''}`;
        const namespace = names.namespace ?? 'vidispine-auth-proxy';
        expect([what, wiringProblems(objects)]).toEqual([what, []]);
        expect([what, certManagerProblems(objects)]).toEqual([what, []]);
        expect(one(objects, 'MutatingWebhookConfiguration').metadata.name).toBe(
          `${service}.${namespace}`,
        );
        expect(tlsTarget(objects).dnsName).toBe(`${service}.${namespace}.svc`);
        // Every Certificate is issued by a rendered Issuer: none would be issued otherwise.
        for (const cert of byKind(objects, 'Certificate')) {
          const issuer = String(at(cert, 'spec', 'issuerRef', 'name'));
          expect([
            cert.metadata.name,
            byKind(objects, 'Issuer').map((i) => i.metadata.name),
          ]).toEqual([cert.metadata.name, expect.arrayContaining([issuer])]);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('two installs in one namespace under namePrefixes of their own keep a CA and a serving certificate each, in Secrets of their own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-two-prefixes-'));
    try {
      const installs = ['team-a-', 'team-b-'].map((namePrefix) => {
        const { objects } = renderKustomization(
          followingNames(join(dir, namePrefix), DIR, { namePrefix }),
        );
        const certificates = byKind(objects, 'Certificate');
        const serving = certificates.find((c) => at(c, 'spec', 'isCA') !== true);
        const ca = certificates.find((c) => at(c, 'spec', 'isCA') === true);
        const caIssuer = byKind(objects, 'Issuer').find((i) => at(i, 'spec', 'ca') !== undefined);
        const mounted = records(
          at(injectorOf(objects).deployment, 'spec', 'template', 'spec', 'volumes'),
        ).map((v) => at(v, 'secret', 'secretName'));
        // Each install mounts what its serving Certificate writes, and its CA Issuer signs
        // with what its CA Certificate writes.
        expect(mounted).toEqual([at(serving, 'spec', 'secretName')]);
        expect(at(caIssuer, 'spec', 'ca', 'secretName')).toBe(at(ca, 'spec', 'secretName'));
        return certificates.map((c) => String(at(c, 'spec', 'secretName')));
      });
      // cert-manager re-issues a Secret another Certificate wrote: two Certificates writing
      // one take turns, and one install's pods would serve the other's certificate.
      const [a = [], b = []] = installs;
      expect(a.filter((name) => b.includes(name))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('installs in two namespaces, and an overlay moving one, keep a webhook configuration each, calling its own Service', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-two-namespaces-'));
    try {
      const media = inNamespace(dir, DIR, 'media-tools');
      mkdirSync(join(dir, 'moved'));
      const installs = [
        ['vidispine-auth-proxy', DIR],
        ['media-tools', media],
        ['studio-tools', inNamespace(dir, DIR, 'studio-tools')],
        ['archive-tools', inNamespace(join(dir, 'moved'), media, 'archive-tools')],
      ].map(([namespace, path]) => ({
        namespace,
        objects: renderKustomization(path as string).objects,
      }));
      expect(
        installs.map(({ objects }) => one(objects, 'MutatingWebhookConfiguration').metadata.name),
      ).toEqual([
        'vidispine-auth-proxy-injector.vidispine-auth-proxy',
        'vidispine-auth-proxy-injector.media-tools',
        'vidispine-auth-proxy-injector.studio-tools',
        'vidispine-auth-proxy-injector.archive-tools',
      ]);
      for (const { namespace, objects } of installs) {
        expect(namespacesNamed(objects)).toEqual([namespace]);
        expect(wiringProblems(objects)).toEqual([]);
        expect(certManagerProblems(objects)).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** The README's kustomization moving the webhook's port, its resource made a path to DIR. */
  const readmePortOverlay = (dir: string): string => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```/gm)]
      .map(([, text = '']) => text)
      .find((text) => text.includes('WEBHOOK_LISTEN'));
    if (block === undefined) throw new Error("no README kustomization moving the webhook's port");
    return block.replace('vidispine-auth-proxy/deploy/injector', relative(dir, DIR));
  };

  it("the README's patch moves the webhook's port: container port, WEBHOOK_LISTEN and Service targetPort", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-port-'));
    try {
      writeFileSync(join(dir, 'kustomization.yaml'), readmePortOverlay(dir));
      const { objects } = renderKustomization(dir);
      const { container, env } = injectorOf(objects);
      expect(records(container.ports).find((p) => p.name === 'https')?.containerPort).toBe(10250);
      expect(env.WEBHOOK_LISTEN).toBe('[::]:10250');
      expect(wiringProblems(objects)).toEqual([]);
      expect(schemaProblems(objects)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the host-network component puts the webhook's pods on the node's network, as injector.hostNetwork does", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-host-network-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        stringify({
          resources: [relative(dir, DIR)],
          components: [relative(dir, join(DIR, 'host-network'))],
        }),
      );
      const { objects } = renderKustomization(dir);
      expect(schemaProblems(objects)).toEqual([]);
      expect(wiringProblems(objects)).toEqual([]);
      const fromChart = injectorOf(
        renderChart(HELMS[1] as Helm, CHART, [], {
          set: [...WEBHOOK_ONLY, 'injector.hostNetwork=true'],
        }).objects,
      ).deployment;
      const fromKustomize = injectorOf(objects).deployment;
      for (const path of [
        ['spec', 'template', 'spec', 'hostNetwork'],
        ['spec', 'template', 'spec', 'dnsPolicy'],
      ])
        expect([path, at(fromKustomize, ...path)]).toEqual([path, at(fromChart, ...path)]);
      const required = (d: K8sObject): unknown =>
        records(
          at(
            d,
            'spec',
            'template',
            'spec',
            'affinity',
            'podAntiAffinity',
            'requiredDuringSchedulingIgnoredDuringExecution',
          ),
        ).map((t) => t.topologyKey);
      expect(required(fromKustomize)).toEqual(['kubernetes.io/hostname']);
      expect(required(fromKustomize)).toEqual(required(fromChart));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([1, 2, 3])(
    'the host-network component with %d replica(s) rolls out as the chart does: one answering throughout, moving on with no node spare',
    (replicas) => {
      const dir = mkdtempSync(join(tmpdir(), 'vap-injector-host-network-rollout-'));
      try {
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          stringify({
            resources: [relative(dir, DIR)],
            components: [relative(dir, join(DIR, 'host-network'))],
            replicas: [{ name: 'vidispine-auth-proxy-injector', count: replicas }],
          }),
        );
        const { deployment } = injectorOf(renderKustomization(dir).objects);
        expect(at(deployment, 'spec', 'replicas')).toBe(replicas);
        const bounds = rolloutBounds(at(deployment, 'spec', 'strategy'), replicas);
        expect(bounds.fewestReady).toBeGreaterThanOrEqual(1);
        expect(bounds.removesFirst).toBe(replicas > 1);
        const fromChart = injectorOf(
          renderChart(HELMS[1] as Helm, CHART, [], {
            set: [
              ...WEBHOOK_ONLY,
              'injector.hostNetwork=true',
              `injector.replicaCount=${replicas}`,
            ],
          }).objects,
        ).deployment;
        expect(bounds).toEqual(rolloutBounds(at(fromChart, 'spec', 'strategy'), replicas));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("gives the webhook the chart's resources and probes", () => {
    const fromKustomize = injectorOf(renderKustomization(DIR).objects).container;
    const fromChart = injectorOf(
      renderChart(HELMS[1] as Helm, CHART, [], { set: WEBHOOK_ONLY }).objects,
    ).container;
    for (const field of ['resources', 'readinessProbe', 'livenessProbe', 'securityContext'])
      expect([field, fromKustomize[field]]).toEqual([field, fromChart[field]]);
  });

  it('one images: entry sets the image it runs and the image it injects; the namespace carries through', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-injector-overlay-'));
    try {
      // The namespace is set in the folder itself (see its kustomization): a copy with another.
      const copy = join(dir, 'injector');
      cpSync(DIR, copy, { recursive: true });
      const kustomization = join(copy, 'base', 'kustomization.yaml');
      writeFileSync(
        kustomization,
        readFileSync(kustomization, 'utf8').replace(/^namespace: .*$/m, 'namespace: webhooks'),
      );
      const app = join(dir, 'cluster');
      mkdirSync(app);
      writeFileSync(
        join(app, 'kustomization.yaml'),
        stringify({
          resources: [relative(app, copy)],
          images: [{ name: 'vidispine-auth-proxy', newName: IMAGE, newTag: '0.2.0' }],
          patches: [
            {
              patch: stringify({
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: { name: 'vidispine-auth-proxy-injector' },
                data: {
                  SIDECAR_VIDISPINE_URL: 'http://vidispine.media.svc:8080',
                  // A RunAs service account for pods with credential: runas.
                  SIDECAR_RUNAS_USER: 'svc-runas',
                  SIDECAR_RUNAS_SECRET: 'vidispine-runas',
                  SIDECAR_RUNAS_ACCESS_KEY_ID: 'VSIDRUNAS0000000001',
                },
              }),
            },
          ],
        }),
      );
      const { objects } = renderKustomization(app);
      const { container, env } = injectorOf(objects);
      expect(container.image).toBe(`${IMAGE}:0.2.0`);
      expect(env.SIDECAR_IMAGE).toBe(`${IMAGE}:0.2.0`);
      expect(env.SIDECAR_VIDISPINE_URL).toBe('http://vidispine.media.svc:8080');
      expect(one(objects, 'Namespace').metadata.name).toBe('webhooks');
      expect(outsideNamespace(objects, 'webhooks')).toEqual([]);
      expect(wiringProblems(objects)).toEqual([]);
      expect(certManagerProblems(objects)).toEqual([]);
      expect(tlsTarget(objects).dnsName).toBe('vidispine-auth-proxy-injector.webhooks.svc');
      expect(loadsItsConfiguration(objects).sidecar.runAs).toEqual({
        user: 'svc-runas',
        secret: 'vidispine-runas',
        key: 'access-key',
        accessKeyId: 'VSIDRUNAS0000000001',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubectl kustomize deploy/injector/base with the provided-ca component', () => {
  const SCRIPT = join('deploy', 'injector', 'provided-ca', 'certificates.sh');
  const EXAMPLE = join('deploy', 'examples', 'injector-provided-ca');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vap-injector-provided-ca-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A copy of deploy/ in which the operator's steps are done: the base's namespace set,
   * certificates.sh run into the example overlay (twice: the second run renews).
   */
  function operatorCopy(
    name: string,
    namespace?: string,
  ): { root: string; example: string; runs: string[] } {
    const root = join(dir, name);
    // Files a local run of the script left in the checkout are not the test's.
    cpSync(join(ROOT, 'deploy'), join(root, 'deploy'), {
      recursive: true,
      filter: (src) => !/\.(crt|key)$/.test(src),
    });
    if (namespace !== undefined) {
      const base = join(root, 'deploy', 'injector', 'base', 'kustomization.yaml');
      writeFileSync(
        base,
        readFileSync(base, 'utf8').replace(/^namespace: .*$/m, `namespace: ${namespace}`),
      );
    }
    const example = join(root, EXAMPLE);
    const run = (): string => {
      const args = [join(root, SCRIPT), example, ...(namespace === undefined ? [] : [namespace])];
      const r = runTool('bash', args);
      expect([r.status, r.stderr]).toEqual([0, '']);
      return r.stdout;
    };
    return { root, example, runs: [run()] };
  }

  const file = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

  /** The provided-CA wiring: the caBundle is the CA the operator made, the mounted Secret holds the pair. */
  function providedCaProblems(objects: readonly K8sObject[], example: string): string[] {
    const out: string[] = [];
    const { secretName } = tlsTarget(objects);
    const { deployment } = injectorOf(objects);
    const secret = byKind(objects, 'Secret').find((s) => s.metadata.name === secretName);
    if (!secret) return [`the Deployment mounts Secret ${secretName}, which is not rendered`];
    if (secret.metadata.namespace !== deployment.metadata.namespace)
      out.push(`Secret in ${String(secret.metadata.namespace)}, the webhook in another namespace`);
    if (secret.type !== 'kubernetes.io/tls') out.push(`Secret type ${String(secret.type)}`);
    const data = at(secret, 'data') as Rec;
    // The certificates and the key the webhook serves with; the CA's key stays out.
    const keys = Object.keys(data).sort();
    if (JSON.stringify(keys) !== JSON.stringify(['ca.crt', 'tls.crt', 'tls.key']))
      out.push(`Secret keys ${keys.join(', ')}`);
    for (const key of keys) {
      if (Buffer.from(String(data[key]), 'base64').toString('utf8') !== file(example, key))
        out.push(`Secret ${key} is not the file certificates.sh wrote`);
    }
    const mwc = one(objects, 'MutatingWebhookConfiguration');
    for (const hook of records(at(mwc, 'webhooks'))) {
      const caBundle = Buffer.from(String(at(hook, 'clientConfig', 'caBundle')), 'base64');
      if (caBundle.toString('utf8') !== file(example, 'ca.crt'))
        out.push(`webhook ${String(hook.name)}: caBundle is not ca.crt`);
    }
    if (at(mwc, 'metadata', 'annotations') !== undefined) out.push('annotations on the MWC');
    const certManager = objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/'));
    if (certManager.length > 0) out.push(`${certManager.length} cert-manager objects rendered`);
    return out;
  }

  it('renders valid objects whose caBundle is the CA certificates.sh made, beside the Secret the webhook mounts', () => {
    const { example } = operatorCopy('example');
    const rendered = renderKustomization(example);
    expect(schemaProblems(rendered.objects)).toEqual([]);
    expect(secretProblems(rendered)).toEqual([]);
    expect(wiringProblems(rendered.objects)).toEqual([]);
    expect(providedCaProblems(rendered.objects, example)).toEqual([]);
    expect(outsideNamespace(rendered.objects, 'vidispine-auth-proxy')).toEqual([]);
  });

  it('the real webhook serves the rendered pair to a client trusting only the rendered caBundle', async () => {
    const { example } = operatorCopy('end-to-end');
    await servesTheRenderedPair(renderKustomization(example).objects);
  });

  it('your namespace: with follow-namespace under transformers: the webhook, its Secret and every reference move there', () => {
    const { root, example } = operatorCopy('overlay');
    // The operator's certificates for the namespace of their own kustomization.
    const r = runTool('bash', [join(root, SCRIPT), example, 'media-tools']);
    expect(r.status).toBe(0);
    const { objects } = renderKustomization(inNamespace(dir, example, 'media-tools'));
    expect(namespacesNamed(objects)).toEqual(['media-tools']);
    expect(wiringProblems(objects)).toEqual([]);
    expect(providedCaProblems(objects, example)).toEqual([]);
    const { dnsName } = tlsTarget(objects);
    expect(dnsName).toBe('vidispine-auth-proxy-injector.media-tools.svc');
    expect(new X509Certificate(file(example, 'tls.crt')).subjectAltName).toBe(
      `DNS:${dnsName}, DNS:${dnsName}.cluster.local`,
    );
  });

  it.each([
    ['namePrefix', { namePrefix: 'team-a-' }, 'team-a-vidispine-auth-proxy-injector'],
    // The Secret kustomize generates is renamed <name><suffix>-<hash>: the Deployment must
    // mount that one, not a name the transformer made up for cert-manager's Secrets.
    ['nameSuffix', { nameSuffix: '-team-a' }, 'vidispine-auth-proxy-injector-team-a'],
  ])(
    'your %s: with follow-namespace under transformers and the Service name given to certificates.sh, the webhook is called under the name its certificate holds',
    (label, names, service) => {
      const { root, example } = operatorCopy(label);
      const r = runTool('bash', [join(root, SCRIPT), example, 'vidispine-auth-proxy', service]);
      expect([r.status, r.stderr]).toEqual([0, '']);
      const app = followingNames(join(dir, `${label}-app`), example, names, root);
      const { objects } = renderKustomization(app);
      expect(wiringProblems(objects)).toEqual([]);
      expect(providedCaProblems(objects, example)).toEqual([]);
      const { dnsName } = tlsTarget(objects);
      expect(dnsName).toBe(`${service}.vidispine-auth-proxy.svc`);
      expect(new X509Certificate(file(example, 'tls.crt')).subjectAltName).toBe(
        `DNS:${dnsName}, DNS:${dnsName}.cluster.local`,
      );
    },
  );

  it("certificates.sh names the namespace it is given (or the base's) and keeps the CA when it renews", () => {
    const copy = operatorCopy('webhooks', 'webhooks');
    const first = { ca: file(copy.example, 'ca.crt'), cert: file(copy.example, 'tls.crt') };
    // Without the argument: the namespace the base sets.
    const r = runTool('bash', [join(copy.root, SCRIPT), copy.example]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('keeping the CA');
    expect(file(copy.example, 'ca.crt')).toBe(first.ca);
    expect(file(copy.example, 'tls.crt')).not.toBe(first.cert);
    const { objects } = renderKustomization(copy.example);
    expect(providedCaProblems(objects, copy.example)).toEqual([]);
    expect(outsideNamespace(objects, 'webhooks')).toEqual([]);
    const { dnsName } = tlsTarget(objects);
    expect(dnsName).toBe('vidispine-auth-proxy-injector.webhooks.svc');
    const cert = new X509Certificate(file(copy.example, 'tls.crt'));
    expect(cert.subjectAltName).toBe(`DNS:${dnsName}, DNS:${dnsName}.cluster.local`);
    expect(cert.verify(new X509Certificate(first.ca).publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(new X509Certificate(first.ca).ca).toBe(true);
  });
});
