/**
 * The README's "Inject the proxy into any pod" recipe, as written: its `helm install` flags
 * render the chart, the webhook starts with the rendered Deployment's environment, and the
 * pod of a stock Deployment patched with its `kubectl patch` comes back with the sidecar,
 * valid and able to read the Secret its `kubectl create secret` makes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appConfigProblems } from '../deploy/app-config';
import { proxyContainers, secretReadProblems, workloadProblems } from '../deploy/checks';
import {
  CHART,
  HELMS,
  type K8sObject,
  ROOT,
  at,
  byKind,
  isRecord,
  records,
  renderChart,
  schemaProblems,
} from '../deploy/render';
import { patched, podReview, startWebhook } from '../support/inject';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Inject the proxy into any pod'));
const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
/** The commands, continuation lines joined. */
const recipe = block.replace(/\\\n\s*/g, ' ');
const lines = recipe.split('\n').filter((l) => l.trim() !== '');

/** A JSON merge patch (RFC 7386), as `kubectl patch --type merge` applies it. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

it('is five lines', () => {
  expect(block.trimEnd().split('\n')).toHaveLength(5);
});

it('injects the proxy into a stock Deployment as written', async () => {
  const helm = lines.find((l) => l.startsWith('helm install')) ?? '';
  const sets = [...helm.matchAll(/--set (\S+)/g)].map((m) => String(m[1]));
  expect(sets).toContain('injector.enabled=true');
  const { objects } = renderChart(HELMS[1] as (typeof HELMS)[number], CHART, [], { set: sets });
  const deployment = byKind(objects, 'Deployment').find((d) =>
    JSON.stringify(at(d, 'spec', 'template', 'spec', 'containers')).includes('"inject"'),
  );
  const env = Object.fromEntries(
    records(at(deployment, 'spec', 'template', 'spec', 'containers', 0, 'env')).map((e) => [
      String(e.name),
      String(e.value),
    ]),
  );
  const { WEBHOOK_CERT_FILE: _cert, WEBHOOK_KEY_FILE: _key, ...deployed } = env;
  const webhook = await startWebhook({
    ...deployed,
    WEBHOOK_LISTEN: '127.0.0.1:0',
    OPS_LISTEN: '127.0.0.1:0',
  });
  try {
    // The patch's JSON may run over two lines: it is quoted.
    const patchJson = /kubectl .* patch .* -p '([\s\S]*?)'/.exec(recipe)?.[1];
    expect(patchJson).toBeDefined();
    const stock = {
      metadata: { labels: { app: 'shop' } },
      spec: { containers: [{ name: 'shop', image: 'registry.example.com/shop:2' }] },
    };
    const template = at(
      mergePatch({ spec: { template: stock } }, JSON.parse(patchJson ?? 'null')),
      'spec',
      'template',
    ) as Record<string, unknown>;
    const result = patched(template, await webhook.review(podReview(template)));
    const pod = {
      ...result,
      metadata: { ...(result.metadata as object), name: 'shop' },
    } as K8sObject;
    expect(schemaProblems([pod])).toEqual([]);
    expect(workloadProblems([pod])).toEqual([]);
    expect(secretReadProblems([pod])).toEqual([]);
    expect(appConfigProblems([pod])).toEqual([]);
    const [proxy] = proxyContainers([pod]);
    expect(proxy?.container.image).toBe('registry.example.com/vidispine-auth-proxy:0.1.0');
    // The Secret the recipe creates, under the key the proxy reads.
    const secret = /create secret generic (\S+) --from-literal=(\w+)=/.exec(recipe);
    expect(records(at(pod, 'spec', 'volumes'))).toContainEqual(
      expect.objectContaining({ secret: expect.objectContaining({ secretName: secret?.[1] }) }),
    );
    expect(proxy?.env.get('VIDISPINE_PASSWORD_FILE')?.value).toMatch(
      new RegExp(`/${secret?.[2]}$`),
    );
    expect(records(at(pod, 'spec', 'containers', 0, 'env'))).toEqual([
      { name: 'VIDISPINE_API', value: 'http://127.0.0.1:8080/API' },
    ]);
  } finally {
    await webhook.stop();
  }
});
