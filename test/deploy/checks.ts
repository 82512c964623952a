import { parse as parseYaml } from 'yaml';
import {
  ENV_NAMES,
  IMAGE_USER,
  OPS_PROBES,
  PROXY_CONTAINER,
  SECRET_ENV_NAMES,
  SECRET_FILE_KEYS,
  SHUTDOWN_SECONDS,
  STARTUP_WINDOW_SECONDS,
} from './contract';
import { expandedEnv } from '../support/kubelet-env';
import { K8sObject, at, byKind, isRecord, records } from './render';

/**
 * Property checks over rendered manifests. Each returns problems as lines (empty when all
 * hold), so a failing test names the object and the property.
 */

type Rec = Record<string, unknown>;

export interface WorkloadOptions {
  /** Env names the manifests add on purpose beyond the proxy's own (extraEnv). */
  extraEnv?: readonly string[];
}

/** Pod specs of workloads' templates, and of bare Pods (as the injection webhook returns them). */
function podSpecs(objects: readonly K8sObject[]): { where: string; spec: Rec }[] {
  return objects.flatMap((o) => {
    const spec = o.kind === 'Pod' ? at(o, 'spec') : at(o, 'spec', 'template', 'spec');
    return isRecord(spec) ? [{ where: `${o.kind}/${o.metadata.name}`, spec }] : [];
  });
}

function listenPort(listen: unknown): number | undefined {
  if (typeof listen !== 'string') return undefined;
  const m = /:(\d+)$/.exec(listen);
  return m ? Number(m[1]) : undefined;
}

function listenHost(listen: unknown): string | undefined {
  return typeof listen === 'string' ? listen.replace(/:\d+$/, '') : undefined;
}

/** The proxy container of a pod template, with the inputs its configuration comes from. */
export interface ProxyContainer {
  where: string;
  spec: Rec;
  container: Rec;
  sidecar: boolean;
  /**
   * From `env` and `envFrom` ConfigMaps; later entries win, and `env` values are expanded
   * (`$$`, `$(NAME)`), as in Kubernetes: what the proxy reads.
   */
  env: Map<string, Rec>;
  /** The YAML file CONFIG_FILE names, read from the ConfigMap mounted there. */
  configText: string | undefined;
}

/** The variables a container's `envFrom` ConfigMaps give it, as they are (never expanded). */
function configMapEnv(container: Rec, objects: readonly K8sObject[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const ref of records(container.envFrom)) {
    const name = at(ref, 'configMapRef', 'name');
    const data = at(
      objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name),
      'data',
    );
    if (isRecord(data)) for (const [k, v] of Object.entries(data)) env.set(k, String(v));
  }
  return env;
}

export function proxyContainers(objects: readonly K8sObject[]): ProxyContainer[] {
  return podSpecs(objects).flatMap(({ where, spec }) => {
    const sidecar = records(spec.initContainers).find((c) => c.name === PROXY_CONTAINER);
    const container = sidecar ?? records(spec.containers).find((c) => c.name === PROXY_CONTAINER);
    if (!container) return [];
    const fromConfigMaps = configMapEnv(container, objects);
    const env = new Map<string, Rec>();
    for (const [k, v] of fromConfigMaps) env.set(k, { name: k, value: v });
    for (const e of expandedEnv(fromConfigMaps, records(container.env))) env.set(String(e.name), e);
    const configFile = env.get('CONFIG_FILE')?.value;
    const configText =
      typeof configFile === 'string'
        ? configFileText(configFile, container, spec, objects)
        : undefined;
    return [{ where, spec, container, sidecar: sidecar !== undefined, env, configText }];
  });
}

/** The gateway's proxy container: the one in a Deployment, as the chart and deploy/base render it. */
export function gatewayContainer(objects: readonly K8sObject[]): ProxyContainer {
  const gateway = proxyContainers(objects).find((p) => p.where.startsWith('Deployment/'));
  if (gateway === undefined) throw new Error('no gateway Deployment rendered');
  return gateway;
}

/** The proxy's own default ops listener. */
const OPS_DEFAULT = '0.0.0.0:9090';

/** The ops port and data listener hosts the proxy will use. */
function listeners(p: ProxyContainer): { opsPort: number; opsHost: string; dataHosts: string[] } {
  if (p.configText === undefined) {
    const value = (k: string): unknown => p.env.get(k)?.value;
    const ops = value('OPS_LISTEN') ?? OPS_DEFAULT;
    return {
      opsPort: listenPort(ops) ?? 9090,
      opsHost: listenHost(ops) ?? '',
      dataHosts: [listenHost(value('PROXY_LISTEN')) ?? '127.0.0.1'],
    };
  }
  const config = parseYaml(p.configText) as unknown;
  const ops = at(config, 'ops', 'listen') ?? OPS_DEFAULT;
  return {
    opsPort: listenPort(ops) ?? 9090,
    opsHost: listenHost(ops) ?? '',
    dataHosts: records(at(config, 'users')).flatMap((u) => listenHost(u.listen) ?? []),
  };
}

function configFileText(
  path: string,
  container: Rec,
  spec: Rec,
  objects: readonly K8sObject[],
): string {
  const mount = records(container.volumeMounts).find((m) =>
    path.startsWith(`${String(m.mountPath)}/`),
  );
  const volume = records(spec.volumes).find((v) => v.name === mount?.name);
  const cm = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === at(volume, 'configMap', 'name'),
  );
  // A volume with items projects those keys alone, each at its own path.
  const file = path.slice(String(mount?.mountPath).length + 1);
  const items = at(volume, 'configMap', 'items');
  const key = items === undefined ? file : records(items).find((item) => item.path === file)?.key;
  const text = typeof key === 'string' ? at(cm, 'data', key) : undefined;
  if (typeof text !== 'string') throw new Error(`CONFIG_FILE ${path} is not backed by a ConfigMap`);
  return text;
}

/**
 * The container's hardening. `pod` is the pod securityContext it may rely on: the gateway's
 * own pod's, or none for a sidecar, which must not depend on the app's pod settings.
 */
export function securityProblems(where: string, pod: Rec, c: Rec): string[] {
  const sc = isRecord(c.securityContext) ? c.securityContext : {};
  const both = (k: string): unknown => sc[k] ?? pod[k];
  const out: string[] = [];
  const name = `${where} container ${String(c.name)}`;
  if (both('runAsNonRoot') !== true) out.push(`${name}: runAsNonRoot is not true`);
  const uid = both('runAsUser');
  if (uid !== undefined && (typeof uid !== 'number' || uid === 0))
    out.push(`${name}: runAsUser ${String(uid)}`);
  // A pod-level runAsUser (the app's, maybe 0) applies to a proxy that sets none: only where
  // the platform assigns the user (OpenShift), and then its own runAsNonRoot refuses root.
  if (c.name === PROXY_CONTAINER && (sc.runAsUser === undefined) !== (sc.runAsGroup === undefined))
    out.push(`${name}: only one of runAsUser/runAsGroup set on the container`);
  if (c.name === PROXY_CONTAINER && sc.runAsUser === undefined && sc.runAsNonRoot !== true)
    out.push(`${name}: neither runAsUser nor runAsNonRoot set on the container`);
  if (sc.readOnlyRootFilesystem !== true) out.push(`${name}: readOnlyRootFilesystem is not true`);
  if (sc.allowPrivilegeEscalation !== false)
    out.push(`${name}: allowPrivilegeEscalation is not false`);
  const drop = at(sc, 'capabilities', 'drop');
  if (!Array.isArray(drop) || !drop.includes('ALL'))
    out.push(`${name}: capabilities do not drop ALL`);
  if (at(sc, 'capabilities', 'add') !== undefined) out.push(`${name}: adds capabilities`);
  if (at(both('seccompProfile'), 'type') !== 'RuntimeDefault')
    out.push(`${name}: seccompProfile is not RuntimeDefault`);
  return out;
}

function probeProblems(where: string, c: Rec, opsPort: number): string[] {
  const out: string[] = [];
  const ports = records(c.ports);
  for (const [probe, path] of Object.entries(OPS_PROBES)) {
    const get = at(c, probe, 'httpGet');
    if (!isRecord(get)) {
      out.push(`${where}: ${probe} is not an httpGet probe`);
      continue;
    }
    if (get.path !== path) out.push(`${where}: ${probe} path ${String(get.path)}, want ${path}`);
    const port =
      typeof get.port === 'number'
        ? get.port
        : ports.find((p) => p.name === get.port)?.containerPort;
    if (port !== opsPort)
      out.push(`${where}: ${probe} port ${String(get.port)} is not the ops port ${opsPort}`);
  }
  if (
    !(
      (Number(at(c, 'startupProbe', 'failureThreshold')) || 3) *
        (Number(at(c, 'startupProbe', 'periodSeconds')) || 10) >=
      STARTUP_WINDOW_SECONDS
    )
  ) {
    out.push(
      `${where}: startupProbe allows less than ${STARTUP_WINDOW_SECONDS} s for the first token`,
    );
  }
  return out;
}

/**
 * The grammar of Kubernetes's resource.ParseQuantity (a sign, digits, a suffix or exponent);
 * the API server refuses a container whose requests or limits hold anything else ("" too),
 * and a negative one.
 */
const QUANTITY = /^\+?[0-9.]+([eEinumkKMGTP]*[-+]?[0-9]*)$/;

function resourceProblems(name: string, container: Rec): string[] {
  const out: string[] = [];
  for (const kind of ['requests', 'limits']) {
    const quantities = at(container, 'resources', kind);
    for (const [resource, q] of Object.entries(isRecord(quantities) ? quantities : {})) {
      const ok = typeof q === 'number' ? q >= 0 : typeof q === 'string' && QUANTITY.test(q);
      if (!ok)
        out.push(`${name}: resources.${kind}.${resource} ${JSON.stringify(q)} is no quantity`);
    }
  }
  return out;
}

/** Every pod template: the proxy container's probes, env, listeners, resources and hardening. */
export function workloadProblems(
  objects: readonly K8sObject[],
  options: WorkloadOptions = {},
): string[] {
  const allowedEnv = new Set([...ENV_NAMES, ...(options.extraEnv ?? [])]);
  const out: string[] = [];
  const pods = podSpecs(objects);
  if (pods.length === 0) out.push('no pod template rendered');
  const proxies = proxyContainers(objects);
  for (const { where, spec } of pods) {
    const proxy = proxies.find((p) => p.where === where);
    if (proxy?.sidecar) {
      // A sidecar's pod is the app's: only the proxy container is checked, on its own
      // securityContext. Kubernetes stops a native sidecar after the app's containers have
      // exited, so the pod's grace period is the app's business too.
      out.push(...securityProblems(where, {}, proxy.container));
      continue;
    }
    const pod = isRecord(spec.securityContext) ? spec.securityContext : {};
    const init = records(spec.initContainers);
    const main = records(spec.containers);
    for (const c of [...init, ...main]) out.push(...securityProblems(where, pod, c));
    if (spec.automountServiceAccountToken !== false)
      out.push(`${where}: service account token is mounted`);
    const grace = spec.terminationGracePeriodSeconds;
    if (typeof grace !== 'number' || grace <= SHUTDOWN_SECONDS) {
      out.push(
        `${where}: terminationGracePeriodSeconds ${String(grace)} must exceed ${SHUTDOWN_SECONDS}`,
      );
    }
  }
  for (const { where } of pods) {
    if (!proxies.some((p) => p.where === where))
      out.push(`${where}: no ${PROXY_CONTAINER} container`);
  }
  for (const proxy of proxies) {
    const name = `${proxy.where} ${PROXY_CONTAINER}`;
    if (proxy.sidecar && proxy.container.restartPolicy !== 'Always') {
      out.push(`${name}: sidecar without restartPolicy Always`);
    }
    const settings = listeners(proxy);
    out.push(...probeProblems(name, proxy.container, settings.opsPort));
    out.push(...resourceProblems(name, proxy.container));
    for (const [env, e] of proxy.env) {
      if (!allowedEnv.has(env))
        out.push(`${name}: env ${env} is not in the configuration contract`);
      if (SECRET_ENV_NAMES.includes(env) && e.value !== undefined) {
        out.push(`${name}: ${env} carries a literal secret`);
      }
    }
    // IPv6 and IPv4 alike: the kubelet probes an IPv6-only pod on its IPv6 address.
    if (settings.opsHost !== '[::]')
      out.push(`${name}: ops listener on ${settings.opsHost}, want [::] (every address, IPv6 too)`);
    // A sidecar serves its own pod alone; a gateway its Service, on the pod IP of any family.
    const wantHost = proxy.sidecar ? '127.0.0.1' : '[::]';
    for (const host of settings.dataHosts) {
      if (host !== wantHost) out.push(`${name}: data listener on ${host}, want ${wantHost}`);
    }
  }
  return out;
}

/** Whether labels carry every label of a `matchLabels` selector. */
export const matches = (labels: unknown, selector: unknown): boolean =>
  isRecord(labels) &&
  isRecord(selector) &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const ZONE = 'topology.kubernetes.io/zone';

/**
 * Why a pod template's replicas would not prefer different zones where nodes have zones.
 * kube-scheduler's built-in spreading, over nodes and zones, applies only to a pod with no
 * topologySpreadConstraints of its own; and a zone among those would leave every node
 * without a zone label unscored, in a cluster without zones no spreading at all. So a pod
 * with constraints needs a preferred anti-affinity on the zone, selecting its own labels.
 */
export function zoneSpreadProblems(template: unknown): string[] {
  const constraints = records(at(template, 'spec', 'topologySpreadConstraints'));
  if (constraints.some((c) => c.topologyKey === ZONE))
    return [`a ${ZONE} spread constraint: nodes without that label go unscored`];
  if (constraints.length === 0) return [];
  const labels = at(template, 'metadata', 'labels');
  const terms = records(
    at(
      template,
      'spec',
      'affinity',
      'podAntiAffinity',
      'preferredDuringSchedulingIgnoredDuringExecution',
    ),
  );
  const zone = terms.some(
    (t) =>
      at(t, 'podAffinityTerm', 'topologyKey') === ZONE &&
      matches(labels, at(t, 'podAffinityTerm', 'labelSelector', 'matchLabels')),
  );
  return zone
    ? []
    : [
        `spread constraints (${constraints.map((c) => String(c.topologyKey)).join(', ')}) ` +
          `turn off the scheduler's zone spreading, and no preferred anti-affinity on ${ZONE} ` +
          `selects the pod's labels`,
      ];
}

/**
 * Wherever NetworkPolicy is enforced, a Service port that no ingress rule admits is
 * unreachable. Every port of every Service must be admitted (by name or by number, as the
 * selected pods' containers declare it) by a NetworkPolicy selecting its pods, and every
 * data port (all but proxy-ops) to the same peers: a user's listener the clients cannot
 * reach is a user no one can use.
 */
export function networkPolicyProblems(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const selector = at(service, 'spec', 'selector');
    const workloads = objects.filter((o) =>
      matches(at(o, 'spec', 'template', 'metadata', 'labels'), selector),
    );
    const labels = workloads.map((o) => at(o, 'spec', 'template', 'metadata', 'labels'));
    const selecting = policies.filter((p) =>
      labels.some((l) => matches(l, at(p, 'spec', 'podSelector', 'matchLabels'))),
    );
    // Without a policy the pods admit everything; the gateway always ships one.
    if (selecting.length === 0) continue;
    const containerPorts = workloads.flatMap((o) =>
      records(at(o, 'spec', 'template', 'spec', 'containers')).flatMap((c) => records(c.ports)),
    );
    const rules = selecting.flatMap((p) => records(at(p, 'spec', 'ingress')));
    /** The peers of the rules admitting a Service port, as one comparable string. */
    const peersOf = (port: Record<string, unknown>): string => {
      const target = port.targetPort ?? port.port;
      const declared = containerPorts.find((c) => c.name === target || c.containerPort === target);
      const names = new Set([target, declared?.name, declared?.containerPort]);
      names.delete(undefined);
      return JSON.stringify(
        rules
          .filter((r) => r.ports === undefined || records(r.ports).some((p) => names.has(p.port)))
          .map((r) => r.from ?? 'anyone'),
      );
    };
    const dataPeers = new Map<string, string>();
    for (const port of records(at(service, 'spec', 'ports'))) {
      const where = `Service/${service.metadata.name} port ${String(port.name ?? port.port)}`;
      const peers = peersOf(port);
      if (peers === '[]') out.push(`${where}: no NetworkPolicy ingress rule admits it`);
      else if (port.name !== 'proxy-ops') dataPeers.set(where, peers);
    }
    if (new Set(dataPeers.values()).size > 1) {
      const each = [...dataPeers].map(([where, peers]) => `${where} from ${peers}`);
      out.push(`data ports admitted from different peers: ${each.join('; ')}`);
    }
  }
  return out;
}

// `password: x` or an access key's `secret: x` on one line; passwordFile, secretFile,
// passwordKey … name where a secret lives, and a volume's `secret:` is followed by its fields.
const LITERAL_SECRET = /^[ \t]*-?[ \t]*["']?(?:password|secret)["']?[ \t]*:[ \t]*[^\s{]/im;

/** No Secret objects, no literal passwords in env or in any embedded configuration. */
export function secretProblems(rendered: {
  text: string;
  objects: readonly K8sObject[];
}): string[] {
  const out: string[] = [];
  for (const o of rendered.objects) {
    // A generated TLS pair (the injection webhook's) is no credential of anyone's.
    if (o.kind === 'Secret' && o.type !== 'kubernetes.io/tls')
      out.push(`Secret/${o.metadata.name} is rendered: secrets must stay out of manifests`);
    const data = at(o, 'data');
    if (o.kind === 'ConfigMap' && isRecord(data)) {
      for (const [key, value] of Object.entries(data)) {
        if (typeof value === 'string' && LITERAL_SECRET.test(value)) {
          out.push(`ConfigMap/${o.metadata.name} ${key}: holds a literal secret`);
        }
      }
    }
  }
  const line = rendered.text.split('\n').find((l) => LITERAL_SECRET.test(l) && !/^\s*#/.test(l));
  if (line !== undefined) out.push(`rendered text has a literal secret: ${line.trim()}`);
  return out;
}

/** The owner, group and mode Kubernetes gives the files of a Secret volume. */
function secretFileMode(volume: Rec, key: string, fsGroup: unknown): { gid: number; mode: number } {
  const item = records(at(volume, 'secret', 'items')).find((i) => i.key === key);
  const defaultMode = at(volume, 'secret', 'defaultMode');
  let mode = Number(item?.mode ?? defaultMode ?? 0o644);
  // With fsGroup the kubelet hands the files to that group and adds group read.
  if (typeof fsGroup === 'number') mode |= 0o440;
  return { gid: typeof fsGroup === 'number' ? fsGroup : 0, mode };
}

/**
 * Whether the proxy can read every secret file its configuration names, with the file
 * owner (root), group and mode Kubernetes gives a Secret volume's files and the uid, gid
 * and groups the container runs with (its securityContext, else the pod's, else the
 * image's user), by the POSIX rules: owner bits for the owner, group bits for a member of
 * the file's group, other bits for everyone else.
 */
export function secretReadProblems(objects: readonly K8sObject[]): string[] {
  return proxyContainers(objects).flatMap((p) => {
    const pod = isRecord(p.spec.securityContext) ? p.spec.securityContext : {};
    const sc = isRecord(p.container.securityContext) ? p.container.securityContext : {};
    const uid = Number(sc.runAsUser ?? pod.runAsUser ?? IMAGE_USER);
    const gid = Number(sc.runAsGroup ?? pod.runAsGroup ?? IMAGE_USER);
    const groups = new Set([
      gid,
      ...(Array.isArray(pod.supplementalGroups) ? pod.supplementalGroups : []),
    ]);
    if (typeof pod.fsGroup === 'number') groups.add(pod.fsGroup);
    const files = [
      ...SECRET_ENV_NAMES.flatMap((name) => {
        const value = p.env.get(`${name}_FILE`)?.value;
        return typeof value === 'string' ? [value] : [];
      }),
      ...[...(p.configText ?? '').matchAll(SECRET_FILE_KEYS)].map((m) => String(m[1])),
    ];
    return files.flatMap((file) => {
      const mount = records(p.container.volumeMounts).find((m) =>
        file.startsWith(`${String(m.mountPath)}/`),
      );
      const volume = records(p.spec.volumes).find((v) => v.name === mount?.name);
      if (!volume || at(volume, 'secret') === undefined)
        return [`${p.where}: ${file} is not on a mounted Secret`];
      const { gid: fileGid, mode } = secretFileMode(
        volume,
        file.slice(String(mount?.mountPath).length + 1),
        pod.fsGroup,
      );
      const bits = uid === 0 ? mode >> 6 : groups.has(fileGid) ? mode >> 3 : mode;
      return bits & 0o4
        ? []
        : [
            `${p.where}: uid ${uid} (groups ${[...groups].join(',')}) cannot read ${file} (owner 0:${fileGid}, mode ${mode.toString(8)})`,
          ];
    });
  });
}

/**
 * How many of `replicas` healthy pods a node drain may evict under a PodDisruptionBudget's
 * spec, by Kubernetes's arithmetic: integers as given, percentages of the replicas rounded
 * up. 0 means every drain of a node running one of them blocks.
 */
export function drainEvictions(pdbSpec: unknown, replicas: number): number {
  const scaled = (v: unknown): number =>
    typeof v === 'string' && v.endsWith('%')
      ? Math.ceil((Number(v.slice(0, -1)) * replicas) / 100)
      : Number(v);
  const max = at(pdbSpec, 'maxUnavailable');
  if (max !== undefined) return Math.min(scaled(max), replicas);
  return Math.max(0, replicas - scaled(at(pdbSpec, 'minAvailable')));
}

/**
 * A Deployment's rolling update over `replicas` pods, by the controller's arithmetic
 * (ResolveFenceposts): maxSurge percentages rounded up, maxUnavailable ones down, and 1
 * unavailable when both come to 0. `fewestReady`: the ready pods a rollout never goes below;
 * `removesFirst`: whether it may take an old pod down before a new one is ready, which is the
 * only way forward when no node can take a pod more (one per node, none spare).
 */
export function rolloutBounds(
  strategy: unknown,
  replicas: number,
): { fewestReady: number; removesFirst: boolean } {
  const scaled = (v: unknown, round: (n: number) => number): number =>
    typeof v === 'string' && v.endsWith('%')
      ? round((Number(v.slice(0, -1)) * replicas) / 100)
      : Number(v);
  const update = at(strategy, 'rollingUpdate');
  const surge = scaled(at(update, 'maxSurge') ?? '25%', Math.ceil);
  const given = scaled(at(update, 'maxUnavailable') ?? '25%', Math.floor);
  const unavailable = surge === 0 && given === 0 ? 1 : given;
  return { fewestReady: Math.max(0, replicas - unavailable), removesFirst: unavailable > 0 };
}

/** The webhook's Deployment, container and environment (env and envFrom ConfigMaps). */
export function injectorOf(objects: readonly K8sObject[]): {
  deployment: K8sObject;
  container: Rec;
  env: Record<string, string>;
} {
  const deployment = byKind(objects, 'Deployment').find((d) =>
    records(at(d, 'spec', 'template', 'spec', 'containers')).some((c) =>
      JSON.stringify(c.args).includes('inject'),
    ),
  );
  if (!deployment) throw new Error('no Deployment runs the inject command');
  const container = records(at(deployment, 'spec', 'template', 'spec', 'containers'))[0] as Rec;
  const fromConfigMaps = configMapEnv(container, objects);
  const env = Object.fromEntries(fromConfigMaps);
  for (const e of expandedEnv(fromConfigMaps, records(container.env))) {
    env[String(e.name)] = String(e.value);
  }
  return { deployment, container, env };
}
