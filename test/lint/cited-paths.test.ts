/**
 * The READMEs point readers at the repository's files ("`test/commands/signals.test.ts`",
 * "`deploy/monitoring`"): every such path must exist, so a moved file takes its citations
 * along. Fenced code blocks are commands, whose words may name cluster objects
 * (`kubectl logs deploy/app`), so only the prose is read.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const DOCUMENTS = ['README.md', 'deploy/README.md', 'helm/vidispine-auth-proxy/README.md'];
const CITED =
  /(?<![\w./-])((?:src|test|scripts|bench|docs|deploy|helm|\.ci)\/[\w./-]*[\w/])(?![\w/-])/g;

/** The repository paths a document's prose cites. */
function citedPaths(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  return [...new Set([...prose.matchAll(CITED)].map((m) => String(m[1])))];
}

describe.each(DOCUMENTS)('%s', (document) => {
  const cited = citedPaths(readFileSync(join(ROOT, document), 'utf8'));

  it('cites repository paths', () => {
    expect(cited.length).toBeGreaterThan(0);
  });

  it('cites only paths that exist', () => {
    expect(cited.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });
});

it('reads a path in backticks, in parentheses, before a full stop, and none in a command', () => {
  const text =
    'See (`test/cli/signals.test.ts`) and deploy/base.\n```sh\nkubectl logs deploy/app\n```\n';
  expect(citedPaths(text)).toEqual(['test/cli/signals.test.ts', 'deploy/base']);
});
