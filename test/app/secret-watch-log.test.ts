/**
 * A folder of secret files that cannot be watched is said once in the log: a Secret changed
 * there then waits for the login backoff, which an operator should know.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProxyApp } from '../../src/app';
import { configFromObject } from '../../src/config/load';
import { createLogger } from '../../src/ops/logger';
import { tempFolder } from '../support/files';
import { until } from '../support/wait';

const { path } = tempFolder('secret-watch-log');

it('warns once, naming the folder and not the secret, when a secret folder cannot be watched', async () => {
  const parent = path('secrets');
  const folder = join(parent, 'alice');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'password'), 'hunter2-in-file\n');
  const config = configFromObject(
    {
      vidispine: { url: 'http://127.0.0.1:9' },
      users: [
        { name: 'alice', passwordFile: join(folder, 'password'), listen: '127.0.0.1:0' },
        { name: 'bob', passwordFile: join(folder, 'password'), listen: '127.0.0.1:0' },
      ],
      ops: { listen: '127.0.0.1:0' },
    },
    {},
  );
  const logs: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => void logs.push(line) },
  });
  const app = createProxyApp({ config, logger });
  try {
    const unwatched = () => logs.filter((l) => l.includes('"secret_folder_unwatched"'));
    expect(unwatched()).toEqual([]);
    // The folder and the one above it gone: nothing is left to watch for its return.
    rmSync(parent, { recursive: true });
    await until(() => unwatched().length > 0, 10_000, 'the warning');
    const [line] = unwatched().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(line).toMatchObject({ level: 'warn', folder, reason: 'ENOENT' });
    expect(unwatched()).toHaveLength(1);
    expect(unwatched().join('')).not.toContain('hunter2');
  } finally {
    await app.shutdownSteps.stop();
  }
});
