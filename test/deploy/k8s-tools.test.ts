import { K8S_TOOL_VERSIONS, k8sTools } from '../support/k8s-tools';
import { runTool } from './render';

// The deployment tests are only as good as the binaries they run: the pinned ones, never a
// Helm or kubectl that happens to be on PATH.
describe('pinned Kubernetes tools', () => {
  const tools = k8sTools();

  it.each([
    ['helm3', ['version', '--short']],
    ['helm4', ['version', '--short']],
    ['kubectl', ['version', '--client']],
  ] as const)('%s is the pinned version', (tool, args) => {
    const r = runTool(tools[tool], args);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(K8S_TOOL_VERSIONS[tool]);
  });
});
