/**
 * The README's configuration tables (the proxy's and the injection webhook's), generated from
 * the schemas so they cannot drift from them:
 * `npm run docs:config` rewrites them, and a test fails while the README is stale.
 */
import { type ConfigKey, describedKeys } from './keys';
import { injectorSchema } from './injector';
import { CONFIG_FILE_VARIABLE } from './load';
import { fileSchema } from './schema';

const code = (text: string): string => `\`${text}\``;

function defaultOf(k: ConfigKey, source: 'env' | 'yaml'): string {
  if (source === 'env' && k.envDefault !== undefined) return code(k.envDefault);
  if (k.defaultText !== undefined) return k.defaultText;
  if (k.default !== undefined) return code(String(k.default));
  if (!k.required) return '—';
  if (k.within === undefined) return 'required';
  // A variable of an optional block is needed only with the others; the table says which.
  return source === 'env' ? '—' : `required in ${code(k.within)}`;
}

/** A Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The environment-only configuration: one row per variable. */
export function environmentTable(keys: readonly ConfigKey[] = describedKeys(fileSchema)): string {
  const rows = keys.flatMap((k) =>
    k.env === undefined ? [] : [[code(k.env), k.description, defaultOf(k, 'env')]],
  );
  rows.push([code(CONFIG_FILE_VARIABLE), 'YAML file (same as `--config`)', '—']);
  return table(['variable', 'meaning', 'default'], rows);
}

/** The YAML file: one row per key, with the variable that sets it in environment mode. */
export function yamlTable(keys: readonly ConfigKey[] = describedKeys(fileSchema)): string {
  const rows = keys.map((k) => [
    code(k.name),
    k.description,
    defaultOf(k, 'yaml'),
    k.env === undefined ? '—' : code(k.env),
  ]);
  return table(['key', 'meaning', 'default', 'variable'], rows);
}

const SECTIONS: Readonly<Record<string, () => string>> = {
  env: () => environmentTable(),
  yaml: () => yamlTable(),
  'inject-env': () => environmentTable(describedKeys(injectorSchema)),
  'inject-yaml': () => yamlTable(describedKeys(injectorSchema)),
};

/** `text` with the table between each pair of markers (`<!-- config:env -->` …) regenerated. */
export function withKeyTables(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(SECTIONS)) {
    const begin = `<!-- config:${name} -->`;
    const end = `<!-- /config:${name} -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`the markers ${begin} … ${end} are missing`);
    out = `${out.slice(0, from + begin.length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}
