/**
 * The READMEs' `helm install` recipes are followed by commands on what they install
 * (`kubectl rollout status deployment/<name>`): each name must be one the chart renders for
 * that release and those flags, in the release's namespace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART, HELMS, type Helm, ROOT, byKind, renderChart } from './render';

const DOCUMENTS = ['README.md', 'deploy/README.md', 'helm/vidispine-auth-proxy/README.md'];

interface Recipe {
  readonly release: string;
  readonly namespace: string | undefined;
  readonly sets: readonly string[];
  /** `kubectl [-n ns] rollout status deployment/<name>` after it, as [namespace, name]. */
  readonly rollouts: readonly (readonly [string | undefined, string])[];
}

const namespaceOf = (line: string): string | undefined =>
  /(?:-n|--namespace) (\S+)/.exec(line)?.[1];

/** Every shell block's `helm install <release> helm/vidispine-auth-proxy …` and what follows it. */
function recipes(text: string): Recipe[] {
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```/gm)].flatMap(([, block = '']) => {
    const lines = block.replace(/\\\n\s*/g, ' ').split('\n');
    const install = lines.findIndex((l) => /^helm install \S+ helm\/vidispine-auth-proxy /.test(l));
    const line = lines[install];
    if (line === undefined) return [];
    return [
      {
        release: String(line.split(' ')[2]),
        namespace: namespaceOf(line),
        sets: [...line.matchAll(/--set (\S+)/g)].map((m) => String(m[1])),
        rollouts: lines.slice(install + 1).flatMap((l) => {
          const name = /^kubectl .*rollout status deployment\/(\S+)/.exec(l)?.[1];
          return name === undefined ? [] : [[namespaceOf(l), name] as const];
        }),
      },
    ];
  });
}

const cases = DOCUMENTS.flatMap((document) =>
  recipes(readFileSync(join(ROOT, document), 'utf8')).map((recipe): [string, string, Recipe] => [
    document,
    recipe.release,
    recipe,
  ]),
);

it('finds the recipes, some followed by a rollout', () => {
  expect(cases.length).toBeGreaterThanOrEqual(4);
  expect(cases.some(([, , r]) => r.rollouts.length > 0)).toBe(true);
});

it.each(cases)('%s: helm install %s … names what the chart renders', (_doc, release, recipe) => {
  const { objects } = renderChart(HELMS[1] as Helm, CHART, [], {
    release,
    namespace: recipe.namespace,
    set: recipe.sets,
  });
  const deployments = byKind(objects, 'Deployment').map((d) => d.metadata.name);
  for (const [namespace, name] of recipe.rollouts) {
    expect(deployments).toContain(name);
    expect(namespace).toBe(recipe.namespace);
  }
});
