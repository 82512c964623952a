/**
 * The READMEs point readers at the repository's files ("`test/commands/signals.test.ts`",
 * "`deploy/monitoring`"): every such path must exist, so a moved file takes its citations
 * along. Fenced code blocks are commands, whose words may name cluster objects
 * (`kubectl logs deploy/app`), so only the prose is read. A path from `examples/` is read
 * as the document's own folder's (the chart README's values files), so a reader of another
 * document is never sent to an `examples/` that is not there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const DOCUMENTS = ['README.md', 'deploy/README.md', 'helm/vidispine-auth-proxy/README.md'];
const CITED =
  /(?<![\w./-])((?:src|test|scripts|bench|docs|deploy|helm|\.ci)\/[\w./-]*[\w/])(?![\w/-])/g;
const CITED_BESIDE = /(?<![\w./-])(examples\/[\w./-]*[\w/])(?![\w/-])/g;

/** The paths a document's prose cites that match `pattern`. */
function citedPaths(text: string, pattern = CITED): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  return [...new Set([...prose.matchAll(pattern)].map((m) => String(m[1])))];
}

describe.each(DOCUMENTS)('%s', (document) => {
  const cited = citedPaths(readFileSync(join(ROOT, document), 'utf8'));

  it('cites repository paths', () => {
    expect(cited.length).toBeGreaterThan(0);
  });

  it('cites only paths that exist', () => {
    expect(cited.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });

  it('cites only examples/ paths that exist beside it', () => {
    const beside = citedPaths(readFileSync(join(ROOT, document), 'utf8'), CITED_BESIDE);
    const folder = join(ROOT, dirname(document));
    expect(beside.filter((path) => !existsSync(join(folder, path)))).toEqual([]);
  });
});

it('reads a path in backticks, in parentheses, before a full stop, and none in a command', () => {
  const text =
    'See (`test/cli/signals.test.ts`) and deploy/base.\n```sh\nkubectl logs deploy/app\n```\n';
  expect(citedPaths(text)).toEqual(['test/cli/signals.test.ts', 'deploy/base']);
});

it('reads an examples/ path on its own, not inside a longer one', () => {
  const text = 'See `examples/runas.yaml`, deploy/examples/sidecar and helm/examples/app.\n';
  expect(citedPaths(text, CITED_BESIDE)).toEqual(['examples/runas.yaml']);
});
