import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describedKeys } from '../../src/config/keys';
import { environmentTable, withKeyTables, yamlTable } from '../../src/config/reference';
import { fileSchema } from '../../src/config/schema';

const README = join(__dirname, '..', '..', 'README.md');

describe('configuration reference', () => {
  it('the README tables are the ones the schema generates (npm run docs:config)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withKeyTables(readme)).toBe(readme);
  });

  it('documents every key of the schema, each variable once', () => {
    const keys = describedKeys(fileSchema);
    expect(keys.length).toBeGreaterThan(25);
    for (const k of keys) expect(k.description).not.toBe('');
    const variables = keys.flatMap((k) => (k.env === undefined ? [] : [k.env]));
    expect(new Set(variables).size).toBe(variables.length);
  });

  it('writes each default as loading applies it', () => {
    const env = environmentTable();
    expect(env).toContain('| `PROXY_LISTEN` | data listener acting as this user');
    expect(env).toMatch(/\| `PROXY_LISTEN` \|.*\| `127\.0\.0\.1:8080` \|$/m);
    expect(env).toMatch(/\| `VIDISPINE_URL` \|.*\| required \|$/m);
    expect(env).toMatch(/\| `PROXY_REPLAY_BUFFER_BYTES` \|.*\| `1048576` \|$/m);
    expect(env).toMatch(/\| `CONFIG_FILE` \|/);
    const yaml = yamlTable();
    expect(yaml).toMatch(
      /\| `vidispine\.admin\.username` \|.*\| required in `vidispine\.admin` \| `VIDISPINE_ADMIN_USER` \|$/m,
    );
    expect(yaml).toMatch(
      /\| `users\[\]\.listen` \|.*\| — \(at least one user needs one\) \| `PROXY_LISTEN` \|$/m,
    );
    expect(yaml).toMatch(/\| `ops\.listen` \|.*\| `0\.0\.0\.0:9090` \| `OPS_LISTEN` \|$/m);
    expect(yaml).toMatch(/\| `token\.safetyMarginSeconds` \|.*\| min\(5, 10 % of `seconds`\) \|/m);
  });

  it('refuses a README without the markers', () => {
    expect(() => withKeyTables('# no tables here\n')).toThrow('<!-- config:env -->');
  });
});
