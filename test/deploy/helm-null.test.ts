import { CHART, HELMS, type Helm, at, byKind, renderChart, runTool, valuesArgs } from './render';

// `key: null` is Helm's way to delete a key of the chart's defaults (helm.sh, "Deleting a
// default key"); `--set key=null` takes the same path. Every map of values.yaml set to null
// renders as the chart README says, never as a template's nil pointer.
const IMAGE = 'image.repository=registry.example.com/vidispine-auth-proxy';
const INJECTOR = ['injector.enabled=true', 'injector.sidecar.vidispineUrl=http://vidispine:8080'];

function kinds(helm: Helm, set: readonly string[]): string[] {
  return renderChart(helm, CHART, [], { set: [IMAGE, ...set] }).objects.map(
    (o) => `${o.kind}/${o.metadata.name}`,
  );
}

describe.each(HELMS)('$name: a map of values set to null', (helm: Helm) => {
  // A map whose feature has a switch: null takes the switch with it, the feature is off.
  it.each([
    ['gateway', [], 'Deployment/vap-vidispine-auth-proxy'],
    ['networkPolicy', [], 'NetworkPolicy/vap-vidispine-auth-proxy'],
    ['podDisruptionBudget', [], 'PodDisruptionBudget/vap-vidispine-auth-proxy'],
    [
      'autoscaling',
      ['autoscaling.enabled=true'],
      'HorizontalPodAutoscaler/vap-vidispine-auth-proxy',
    ],
    ['serviceAccount', [], 'ServiceAccount/vap-vidispine-auth-proxy'],
    ['metrics', ['metrics.prometheusRule.enabled=true'], 'PrometheusRule/vap-vidispine-auth-proxy'],
    [
      'metrics.serviceMonitor',
      ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true'],
      'ServiceMonitor/vap-vidispine-auth-proxy',
    ],
    [
      'metrics.prometheusRule',
      ['metrics.prometheusRule.enabled=true'],
      'PrometheusRule/vap-vidispine-auth-proxy',
    ],
    ['injector', INJECTOR, 'Deployment/vap-vidispine-auth-proxy-injector'],
    [
      'injector.podDisruptionBudget',
      INJECTOR,
      'PodDisruptionBudget/vap-vidispine-auth-proxy-injector',
    ],
    [
      'injector.tls.certManager',
      [...INJECTOR, 'injector.tls.certManager.enabled=true'],
      'Certificate/vap-vidispine-auth-proxy-injector',
    ],
  ])('%s: null is off (%j renders without %s)', (key, set, object) => {
    expect(kinds(helm, set)).toContain(object);
    expect(kinds(helm, [...set, `${key}=null`])).not.toContain(object);
  });

  it('serviceAccount: null creates none, and the pods run as the namespace\'s "default"', () => {
    const { objects } = renderChart(helm, CHART, [], { set: [IMAGE, 'serviceAccount=null'] });
    const [deployment] = byKind(objects, 'Deployment');
    expect(at(deployment, 'spec', 'template', 'spec', 'serviceAccountName')).toBe('default');
  });

  it('autoscaling: null keeps replicaCount replicas', () => {
    const { objects } = renderChart(helm, CHART, [], {
      set: [IMAGE, 'autoscaling=null', 'replicaCount=3'],
    });
    expect(at(byKind(objects, 'Deployment')[0], 'spec', 'replicas')).toBe(3);
  });

  // A map with nothing in it the chart needs: null is none, as its default {} is (the
  // Deployments and ConfigMaps compared: the webhook's generated TLS differs every render).
  it.each([
    ['config', []],
    ['podLabels', []],
    ['injector.podLabels', INJECTOR],
  ])('%s: null is none', (key, set) => {
    const workloads = (extra: readonly string[]): unknown[] => {
      const { objects } = renderChart(helm, CHART, [], { set: [IMAGE, ...set, ...extra] });
      return [...byKind(objects, 'Deployment'), ...byKind(objects, 'ConfigMap')];
    };
    expect(workloads([`${key}=null`])).toEqual(workloads([]));
  });

  // A map the chart needs and no switch turns off: refused, naming the key and what to write.
  it.each([
    ['image', [], 'image is null', 'image.repository'],
    ['probes', [], 'probes is null', 'probes.startup'],
    ['probes.startup', [], 'probes.startup is null', 'failureThreshold'],
    ['probes.readiness', [], 'probes.readiness is null', 'failureThreshold'],
    ['probes.liveness', [], 'probes.liveness is null', 'failureThreshold'],
    ['service', [], 'service is null', 'service.ports'],
    ['vidispine', [], 'vidispine is null', 'vidispine.url'],
    ['token', [], 'token is null', 'token.seconds'],
    ['credentials', [], 'credentials is null', 'credentials.existingSecret'],
    [
      'networkPolicy.vidispine',
      [],
      'networkPolicy.vidispine is null',
      'networkPolicy.vidispine.to',
    ],
    [
      'networkPolicy.clientPodSelector',
      [],
      'networkPolicy.clientPodSelector is null',
      'networkPolicy.clientPodSelector.matchLabels=null',
    ],
    [
      'networkPolicy.metricsNamespaceSelector',
      [],
      'networkPolicy.metricsNamespaceSelector is null',
      'networkPolicy.metricsNamespaceSelector.matchLabels=null',
    ],
    ['injector.tls', INJECTOR, 'injector.tls is null', 'injector.tls.generated.validityDays'],
    [
      'injector.tls.generated',
      INJECTOR,
      'injector.tls.generated is null',
      'injector.tls.generated.validityDays',
    ],
    ['image', [...INJECTOR, 'gateway.enabled=false'], 'image is null', 'image.repository'],
  ])('%s: null is refused (%j)', (key, set, message, hint) => {
    const r = runTool(helm.bin, [
      'template',
      'vap',
      CHART,
      ...valuesArgs([], [IMAGE, ...set, `${key}=null`]),
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).not.toContain('nil pointer');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(hint);
  });

  // The refusal's way to let every pod (or namespace) in must do so: a map written as {} is
  // merged with the chart's selector by Helm, and keeps it.
  it.each([
    ['clientPodSelector', 0, 'podSelector'],
    ['metricsNamespaceSelector', 1, 'namespaceSelector'],
  ])(
    'networkPolicy.%s: null is refused, and the way it gives to allow all works',
    (key, i, peer) => {
      const r = runTool(helm.bin, [
        'template',
        'vap',
        CHART,
        ...valuesArgs([], [IMAGE, `networkPolicy.${key}=null`]),
      ]);
      const advised = /--set (\S+) allows every/.exec(r.stderr)?.[1];
      expect(advised).toBe(`networkPolicy.${key}.matchLabels=null`);
      const { objects } = renderChart(helm, CHART, [], { set: [IMAGE, String(advised)] });
      const [policy] = byKind(objects, 'NetworkPolicy');
      expect(at(policy, 'spec', 'ingress', i, 'from', 0, peer)).toEqual({});
    },
  );
});
