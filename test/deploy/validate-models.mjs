// Reads a JSON array of Kubernetes objects on stdin and prints a JSON array of problems:
// each object is checked against its kubernetes-models (or Prometheus Operator) schema.
// Run as a separate node process because those packages are ES modules only.
const GROUP_PACKAGES = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'cert-manager.io': '@kubernetes-models/cert-manager',
};

async function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const pkg = GROUP_PACKAGES[group] ?? 'kubernetes-models';
  const mod = await import(`${pkg}/${apiVersion}/${kind}`);
  return mod[kind];
}

// The API server decodes base64 fields with Go's encoding/base64, which skips line breaks,
// and kustomize wraps long values (a generated Secret's data, a caBundle copied from it).
// The models' "byte" format allows no line break, so those are unwrapped before checking.
const unwrap = (v) => (typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v);
function unwrapBase64(obj) {
  for (const field of ['data', 'binaryData']) {
    if (obj.kind === (field === 'data' ? 'Secret' : 'ConfigMap') && obj[field]) {
      obj[field] = Object.fromEntries(Object.entries(obj[field]).map(([k, v]) => [k, unwrap(v)]));
    }
  }
  for (const hook of Array.isArray(obj.webhooks) ? obj.webhooks : []) {
    if (hook.clientConfig?.caBundle)
      hook.clientConfig.caBundle = unwrap(hook.clientConfig.caBundle);
  }
  return obj;
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const problems = [];
for (const obj of JSON.parse(input)) {
  const where = `${obj.kind}/${obj.metadata?.name}`;
  let Model;
  try {
    Model = await modelFor(obj.apiVersion, obj.kind);
  } catch {
    problems.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  if (typeof Model !== 'function') {
    problems.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  try {
    new Model(unwrapBase64(obj)).validate();
  } catch (err) {
    problems.push(`${where}: ${err.message}`);
  }
}
process.stdout.write(JSON.stringify(problems));
