/**
 * The README's log table is the list of events operators filter and alert on: every event
 * the proxy writes must be in it. The injection webhook is a program of its own: its events
 * are in the README's paragraph on its logs. The simulator writes none.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const NOT_THE_PROXY = ['src/inject/', 'src/simulator/', 'src/commands/inject.ts'];
const THE_WEBHOOK = ['src/inject/', 'src/commands/inject.ts'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The `event` values written in `text` as literals of an object (`{ event: 'token_minted' }`),
 * not as types (`event: 'a' | 'b'`).
 */
function writtenEvents(text: string): string[] {
  return [...text.matchAll(/\bevent: '(\w+)'(?=\s*[,}\n])/g)].map((m) => String(m[1]));
}

/** The events the README's log table names in its first column. */
function documentedEvents(readme: string): string[] {
  const section = readme.slice(readme.indexOf('### Logs'), readme.indexOf('### Lifecycle'));
  return [...section.matchAll(/^\| (.*?) \|/gm)].flatMap((row) =>
    [...String(row[1]).matchAll(/`(\w+)`/g)].map((m) => String(m[1])),
  );
}

/**
 * The events the README names in its paragraph on the webhook's logs, from "Logs are the
 * proxy's JSON lines" to the end of that paragraph.
 */
function documentedWebhookEvents(readme: string): string[] {
  const start = readme.indexOf("Logs are the proxy's JSON lines");
  const paragraph = readme.slice(start, readme.indexOf('\n\n', start));
  return [...paragraph.matchAll(/`(\w+)`/g)].map((m) => String(m[1]));
}

/** The events written in the source files whose path (from the root) `keep` accepts. */
function eventsWritten(keep: (path: string) => boolean): Set<string> {
  const files = sourceFiles(join(ROOT, 'src')).filter((file) => keep(relative(ROOT, file)));
  return new Set(files.flatMap((file) => writtenEvents(readFileSync(file, 'utf8'))));
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

it("every event the proxy logs is in the README's log table", () => {
  const written = eventsWritten((path) => !NOT_THE_PROXY.some((p) => path.startsWith(p)));
  expect(written.size).toBeGreaterThan(10);
  const documented = new Set(documentedEvents(README));
  expect([...written].filter((event) => !documented.has(event)).sort()).toEqual([]);
});

it("every event the injection webhook logs is in the README's paragraph on its logs", () => {
  const written = eventsWritten((path) => THE_WEBHOOK.some((p) => path.startsWith(p)));
  expect(written.size).toBeGreaterThan(4);
  const documented = new Set(documentedWebhookEvents(README));
  expect([...written].filter((event) => !documented.has(event)).sort()).toEqual([]);
});

it('reads events from source and from the first column of the table only', () => {
  const source = "logger.warn({ event: 'a_b', user }, 'x');\ntype T = { event: 'c' | 'd' };";
  expect(writtenEvents(source)).toEqual(['a_b']);
  const readme = '### Logs\n\n| event | fields |\n|---|---|\n| `x`, `y` | `z` |\n### Lifecycle\n';
  expect(documentedEvents(readme)).toEqual(['x', 'y']);
  const webhook = "x\nLogs are the proxy's JSON lines: an `a` line\nand `b`.\n\n`c`";
  expect(documentedWebhookEvents(webhook)).toEqual(['a', 'b']);
});
