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
    new Model(obj).validate();
  } catch (err) {
    problems.push(`${where}: ${err.message}`);
  }
}
process.stdout.write(JSON.stringify(problems));
