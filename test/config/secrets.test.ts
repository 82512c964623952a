import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import fsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeSecret,
  MAX_SECRET_BYTES,
  readSecret,
  readSecretNow,
  readSecretUntil,
  poolThreads,
  SecretError,
  SecretReadHeldError,
  SecretTimeoutError,
  stuckReadLimit,
  stuckSecretReads,
  stuckSecretReadsBack,
  type TextSecretSource,
} from '../../src/config/secrets';
import type { SecretSource } from '../../src/config/types';
import { until } from '../support/wait';

const dir = mkdtempSync(join(tmpdir(), 'vap-secrets-'));
// Mutation testing runs this file on its own, outside the suite's temporary directory.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const path = (name = `s${++count}`) => join(dir, name);
const fileOf = (content: string | Buffer): SecretSource => {
  const p = path();
  writeFileSync(p, content);
  return { kind: 'file', path: p };
};

/**
 * Both readers of a value or a variable, the one used at start and the one used at every
 * mint, must agree (a file is only ever read asynchronously).
 */
async function both(source: SecretSource, env: NodeJS.ProcessEnv = {}): Promise<Buffer> {
  const later = await readSecret(source, env);
  if (source.kind !== 'file') expect(later).toEqual(readSecretNow(source, env));
  return later;
}

async function refusal(source: SecretSource): Promise<string> {
  if (source.kind !== 'file') expect(() => readSecretNow(source, {})).toThrow(SecretError);
  const err = await readSecret(source, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SecretError);
  expect((err as Error).name).toBe('SecretError');
  return (err as Error).message;
}

describe('secret files', () => {
  it('re-reads the file each time and trims only trailing newlines', async () => {
    const source = fileOf('first\n');
    expect((await both(source)).toString()).toBe('first');
    writeFileSync((source as { path: string }).path, ' second \r\n\n');
    expect((await both(source)).toString()).toBe(' second ');
  });

  // Notepad, PowerShell 5's Set-Content -Encoding utf8 and the like put one there: it is an
  // editor's mark, no more a part of the password than the newline at the end.
  it('drops a UTF-8 byte order mark at the start, once, as it drops the trailing newline', async () => {
    const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
    const secret = Buffer.from('alice-password');
    expect(await both(fileOf(Buffer.concat([BOM, secret, Buffer.from('\r\n')])))).toEqual(secret);
    expect(await both(fileOf(Buffer.concat([BOM, BOM, secret])))).toEqual(
      Buffer.concat([BOM, secret]),
    );
    // Only at the start, and only the whole mark.
    const inside = Buffer.concat([secret, BOM]);
    expect(await both(fileOf(inside))).toEqual(inside);
    const part = Buffer.concat([BOM.subarray(0, 2), secret]);
    expect(await both(fileOf(part))).toEqual(part);
    expect(await refusal(fileOf(Buffer.concat([BOM, Buffer.from('\n')])))).toContain('is empty');
    // The same from the environment (a Secret made from such a file, mapped to a variable).
    expect(await both({ kind: 'env', name: 'PW' }, { PW: '\uFEFFalice-password' })).toEqual(secret);
  });

  it('keeps every byte as it is, whatever its encoding', async () => {
    const bytes = Buffer.from([0x70, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a]);
    expect(await both(fileOf(bytes))).toEqual(bytes.subarray(0, 6));
  });

  it('follows a symbolic link to a regular file, as Kubernetes mounts Secrets', async () => {
    // ..data → ..2026_01_01, password → ..data/password, swapped atomically on rotation.
    const mount = path('mount');
    mkdirSync(join(mount, '..v1'), { recursive: true });
    mkdirSync(join(mount, '..v2'));
    writeFileSync(join(mount, '..v1', 'password'), 'one\n');
    writeFileSync(join(mount, '..v2', 'password'), 'two\n');
    symlinkSync('..v1', join(mount, '..data'));
    symlinkSync(join('..data', 'password'), join(mount, 'password'));
    const source: SecretSource = { kind: 'file', path: join(mount, 'password') };
    expect((await both(source)).toString()).toBe('one');
    symlinkSync('..v2', join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
    expect((await both(source)).toString()).toBe('two');
  });

  it('refuses a FIFO at once, without waiting for a writer', async () => {
    const fifo = path('fifo');
    execFileSync('mkfifo', [fifo]);
    expect(await refusal({ kind: 'file', path: fifo })).toBe(
      `file ${fifo} is not a regular file (a FIFO, device or directory is never read)`,
    );
  });

  it('refuses a device and a directory', async () => {
    expect(await refusal({ kind: 'file', path: '/dev/zero' })).toContain('not a regular file');
    expect(await refusal({ kind: 'file', path: dir })).toContain('not a regular file');
  });

  it(`refuses more than ${MAX_SECRET_BYTES} bytes, and an empty secret`, async () => {
    expect((await both(fileOf('x'.repeat(MAX_SECRET_BYTES)))).length).toBe(MAX_SECRET_BYTES);
    expect(await refusal(fileOf('x'.repeat(MAX_SECRET_BYTES + 1)))).toContain(
      `is larger than ${MAX_SECRET_BYTES} bytes`,
    );
    expect(await refusal(fileOf('\r\n'))).toContain('is empty');
  });

  it('closes every file it opens, read or refused', async () => {
    const openFiles = (): number => readdirSync('/proc/self/fd').length;
    const secret = fileOf('pw\n');
    const fifo = path('fifo-closed');
    execFileSync('mkfifo', [fifo]);
    const before = openFiles();
    for (let i = 0; i < 20; i++) {
      await both(secret);
      await refusal({ kind: 'file', path: fifo });
      await refusal(fileOf(''));
    }
    expect(openFiles()).toBe(before);
  });

  it('names a file or a variable by 200 characters at most, as text', async () => {
    const file = `/nonexistent/\x1b[2J${'p'.repeat(3000)}`;
    expect(await refusal({ kind: 'file', path: file })).toBe(
      `cannot read file /nonexistent/?[2J${'p'.repeat(183)}… (ENOENT)`,
    );
    const name = `PW_${'X'.repeat(300)}`;
    expect(await refusal({ kind: 'env', name })).toBe(
      `environment variable PW_${'X'.repeat(197)}… is not set`,
    );
  });

  it('names a missing file by its error code', async () => {
    expect(await refusal({ kind: 'file', path: path('missing') })).toContain('(ENOENT)');
  });
});

describe("a secret read within a mint's time", () => {
  const live = (): AbortSignal => new AbortController().signal;
  const failureOf = (read: Promise<Buffer>): Promise<unknown> =>
    read.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('reads a variable at once, whatever the signal says', async () => {
    const source: SecretSource = { kind: 'env', name: 'PW' };
    const read = readSecretUntil(source, { PW: 'from-env' }, AbortSignal.abort());
    expect((await read).toString()).toBe('from-env');
  });

  it('gives a file up once the signal aborts, naming the file, never the secret', async () => {
    const source = fileOf('hunter2\n');
    const err = await failureOf(readSecretUntil(source, {}, AbortSignal.abort()));
    expect(err).toBeInstanceOf(SecretTimeoutError);
    expect(err).toBeInstanceOf(SecretError);
    expect((err as Error).message).toBe(`file ${(source as { path: string }).path} was not read`);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('passes on a failure of the read itself as readSecret does', async () => {
    const err = await failureOf(
      readSecretUntil({ kind: 'file', path: path('missing') }, {}, live()),
    );
    expect(err).toBeInstanceOf(SecretError);
    expect(err).not.toBeInstanceOf(SecretTimeoutError);
    expect((err as Error).message).toContain('(ENOENT)');
  });

  it('joins a read of the same file under way, and reads the file anew once it ended', async () => {
    // A file with other contents at every read: the kernel's uuid.
    const source: SecretSource = { kind: 'file', path: '/proc/sys/kernel/random/uuid' };
    const reads = [readSecretUntil(source, {}, live()), readSecretUntil(source, {}, live())];
    const [first, joined] = (await Promise.all(reads)).map(String);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(joined).toBe(first);
    expect(String(await readSecretUntil(source, {}, live()))).not.toBe(first);
  });
});

describe("reads of a volume that hangs, and Node's pool threads", () => {
  const live = (): AbortSignal => new AbortController().signal;
  const folder = (name: string): string => {
    const made = path(name);
    mkdirSync(made);
    return made;
  };
  /** Files whose opening hangs until `release`, as on a volume that stopped answering. */
  function hangingOpens() {
    const open = fsPromises.open;
    const hung = new Set<string>();
    const opened: string[] = [];
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const spy = jest.spyOn(fsPromises, 'open').mockImplementation(async (file, ...rest) => {
      opened.push(String(file));
      if (hung.has(String(file))) await released;
      return open(file, ...rest);
    });
    const done = (): void => {
      release();
      spy.mockRestore();
    };
    return { hung, opened, done };
  }
  const secretIn = (dir: string, name: string): SecretSource => {
    const file = join(dir, name);
    writeFileSync(file, `${name}-password`);
    return { kind: 'file', path: file };
  };
  const givenUp = async (source: SecretSource): Promise<unknown> => {
    const timeout = new AbortController();
    const read = readSecretUntil(source, {}, timeout.signal).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    timeout.abort();
    return read;
  };

  it('reads one file of a folder at a time: a hung volume holds one thread for all its files', async () => {
    const volume = folder('volume');
    const [first, second] = [secretIn(volume, 'u1'), secretIn(volume, 'u2')];
    const other = secretIn(folder('other'), 'u3');
    const opens = hangingOpens();
    opens.hung.add((first as { path: string }).path);
    try {
      expect(await givenUp(first)).toBeInstanceOf(SecretTimeoutError);
      expect(stuckSecretReads()).toBe(1);
      const held = await givenUp(second);
      expect(held).toBeInstanceOf(SecretReadHeldError);
      expect((held as Error).message).toBe(
        `file ${(second as { path: string }).path} was not read: the read of another secret file in its folder has not come back; is their volume stuck?`,
      );
      // Another folder's file is read on a thread of its own.
      expect(String(await readSecretUntil(other, {}, live()))).toBe('u3-password');
      expect(opens.opened).toEqual([
        (first as { path: string }).path,
        (other as { path: string }).path,
      ]);
      opens.done();
      // Once the volume answers, the waiting read follows.
      expect(String(await readSecretUntil(second, {}, live()))).toBe('u2-password');
      expect(stuckSecretReads()).toBe(0);
    } finally {
      opens.done();
    }
  });

  it('starts no read while stuck ones hold half the pool (2 of 4 threads): DNS keeps the rest', async () => {
    const sources = ['a', 'b', 'c'].map((name) => secretIn(folder(`volume-${name}`), name));
    const opens = hangingOpens();
    for (const s of sources) opens.hung.add((s as { path: string }).path);
    try {
      expect(await givenUp(sources[0])).toBeInstanceOf(SecretTimeoutError);
      expect(await givenUp(sources[1])).toBeInstanceOf(SecretTimeoutError);
      expect(stuckSecretReads()).toBe(2);
      const refused = readSecretUntil(sources[2], {}, live());
      await expect(refused).rejects.toThrow(
        new SecretReadHeldError(
          `file ${(sources[2] as { path: string }).path} was not read: 2 reads of other secret files have not come back, and another would take a thread that DNS lookups need; are their volumes stuck?`,
        ),
      );
      await expect(refused).rejects.toBeInstanceOf(SecretReadHeldError);
      expect(opens.opened).toHaveLength(2);
    } finally {
      opens.done();
    }
    await until(() => stuckSecretReads() === 0);
  });

  it('tells when the reads given up on come back, failed or not: the shutdown waits for slow ones', async () => {
    await expect(stuckSecretReadsBack()).resolves.toEqual([]);
    const [slow, gone] = ['slow', 'gone'].map((name) => secretIn(folder(`late-${name}`), name));
    const opens = hangingOpens();
    for (const s of [slow, gone]) opens.hung.add((s as { path: string }).path);
    let back = false;
    try {
      expect(await givenUp(slow)).toBeInstanceOf(SecretTimeoutError);
      expect(await givenUp(gone)).toBeInstanceOf(SecretTimeoutError);
      void stuckSecretReadsBack().then(() => (back = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(back).toBe(false);
      // One volume answers with the file, the other with its absence.
      rmSync((gone as { path: string }).path);
    } finally {
      opens.done();
    }
    await until(() => back);
    expect(stuckSecretReads()).toBe(0);
  });

  it.each([
    [undefined, 4, 2],
    // libuv takes atoi's reading: 0 (no digits at all) is 1 thread, and a negative number,
    // stored unsigned, is more than the most it allows.
    ['', 1, 1],
    ['x', 1, 1],
    ['0x10', 1, 1],
    ['1', 1, 1],
    ['0', 1, 1],
    ['-3', 1024, 512],
    ['3', 3, 1],
    ['5', 5, 2],
    ['16', 16, 8],
    ['4096', 1024, 512],
  ])(
    'UV_THREADPOOL_SIZE=%j: %d threads, of which stuck reads may hold %d',
    (setting, threads, limit) => {
      expect(poolThreads(setting)).toBe(threads);
      expect(stuckReadLimit(threads)).toBe(limit);
    },
  );
});

describe('secrets from the environment and the configuration', () => {
  it('reads the environment it is given, as UTF-8 bytes', async () => {
    expect((await both({ kind: 'env', name: 'PW' }, { PW: 'vé' })).toString()).toBe('vé');
    await expect(readSecret({ kind: 'env', name: 'PW' }, { PW: '\n' })).rejects.toThrow(
      'environment variable PW is empty',
    );
    await expect(readSecret({ kind: 'env', name: 'PW' }, {})).rejects.toThrow('is not set');
    expect((await both({ kind: 'literal', value: 'lit' })).toString()).toBe('lit');
    expect(await refusal({ kind: 'literal', value: '\r\n' })).toBe('the value is empty');
  });

  // Node decodes the environment as UTF-8, putting U+FFFD where bytes are not: such a secret
  // would be sent changed, so it is refused with the setting that reads it from a file.
  const FILE_ADVICE =
    'holds U+FFFD, the mark of bytes that are not UTF-8, and would not be sent as written: put the secret in a file';
  // The kind of source, the setting that gave it, and the setting that reads a file instead.
  it.each<['literal' | 'env', string | undefined, string]>([
    ['literal', undefined, 'a passwordFile or secretFile'],
    ['env', undefined, 'a passwordFile or secretFile'],
    ['literal', 'VIDISPINE_PASSWORD', 'VIDISPINE_PASSWORD_FILE'],
    ['literal', 'VIDISPINE_ADMIN_ACCESS_KEY_SECRET', 'VIDISPINE_ADMIN_ACCESS_KEY_SECRET_FILE'],
    ['literal', 'users[0].password', 'users[0].passwordFile'],
    ['env', 'users[0].passwordEnv', 'users[0].passwordFile'],
    ['env', 'vidispine.runAs.accessKey.secretEnv', 'vidispine.runAs.accessKey.secretFile'],
  ])('refuses U+FFFD from a %s set by %s, naming %s', async (kind, setting, fileSetting) => {
    const holding = (text: string): [TextSecretSource, NodeJS.ProcessEnv] =>
      kind === 'literal'
        ? [{ kind, value: text, setting }, {}]
        : [{ kind, name: 'PW', setting }, { PW: text }];
    const where = kind === 'literal' ? 'the value' : 'environment variable PW';
    const message = `${where} ${FILE_ADVICE} (${fileSetting}), whose bytes are sent unchanged`;
    for (const text of ['p\uFFFDw', '\uFFFD']) {
      const [bad, env] = holding(text);
      expect(() => readSecretNow(bad, env)).toThrow(new SecretError(message));
      await expect(readSecret(bad, env)).rejects.toThrow(new SecretError(message));
    }
    // Any other text, however far from ASCII, is sent as its UTF-8 bytes.
    const [good, env] = holding('p\uFFFEw é ✓');
    expect(await both(good, env)).toEqual(Buffer.from('p\uFFFEw é ✓', 'utf8'));
  });

  it('describes where a secret is set without its value', () => {
    const setting = 'users[0].passwordFile';
    expect(describeSecret({ kind: 'file', path: '/run/secrets/pw', setting })).toBe(
      'file /run/secrets/pw (users[0].passwordFile)',
    );
    expect(describeSecret({ kind: 'env', name: 'PW', setting: 'passwordEnv' })).toBe(
      'environment variable PW (passwordEnv)',
    );
    expect(
      describeSecret({ kind: 'literal', value: 'hunter2', setting: 'VIDISPINE_PASSWORD' }),
    ).toBe('VIDISPINE_PASSWORD');
    expect(describeSecret({ kind: 'literal', value: 'hunter2' })).toBe('the configuration');
    expect(describeSecret({ kind: 'env', name: 'PW' })).toBe(
      'environment variable PW (the configuration)',
    );
  });
});

describe('a secret put where a file or a variable should be named', () => {
  const NOT_SHOWN = '(is it the secret itself? it is not shown)';

  it('never shows a file setting without a /: it may be the secret itself', async () => {
    expect(await refusal({ kind: 'file', path: 's3cr3t-Pa55word!' })).toBe(
      `cannot read the file named (ENOENT); the value does not look like a file path ${NOT_SHOWN}`,
    );
    expect(
      describeSecret({ kind: 'file', path: 's3cr3t', setting: 'VIDISPINE_PASSWORD_FILE' }),
    ).toBe('the file named (VIDISPINE_PASSWORD_FILE)');
    const missing = path('missing');
    expect(await refusal({ kind: 'file', path: missing })).toBe(
      `cannot read file ${missing} (ENOENT)`,
    );
  });

  it.each(['a/B+c9/dE=', 'secrets/pw', '.pw/x'])(
    'never shows a file setting %p, whose / may be part of a password',
    async (name) => {
      expect(await refusal({ kind: 'file', path: name })).toBe(
        `cannot read the file named (ENOENT); the value does not look like a file path ${NOT_SHOWN}`,
      );
    },
  );

  it.each(['/no/such/pw', './no-such-pw', '../no-such-pw'])(
    'names the file %s, a path from the root or from .',
    async (name) => {
      expect(await refusal({ kind: 'file', path: name })).toBe(`cannot read file ${name} (ENOENT)`);
    },
  );

  it.each(['s3cr3t-Pa55word!', '2PW', 'PW!', 'MY PW', 'PW-2', '', 'hunter2', 'My_Pw2', 'a'])(
    'never shows a variable setting %p, which is no variable name',
    async (name) => {
      const message = await refusal({ kind: 'env', name });
      expect(message).toBe(
        `the variable named is not set; the value does not look like a variable name ${NOT_SHOWN}`,
      );
      expect(describeSecret({ kind: 'env', name, setting: 'users[0].passwordEnv' })).toBe(
        'the variable named (users[0].passwordEnv)',
      );
    },
  );

  it.each(['PW', '_X', 'ALICE_PW2'])('names the variable %s', async (name) => {
    expect(await refusal({ kind: 'env', name })).toBe(`environment variable ${name} is not set`);
  });

  it('says so for every problem with such a source', async () => {
    expect(() => readSecretNow({ kind: 'env', name: 'p w' }, { 'p w': '\uFFFD' })).toThrow(
      /^the variable named holds U\+FFFD.*; the value does not look like a variable name \(is it/,
    );
    expect(() => readSecretNow({ kind: 'env', name: 'p w' }, { 'p w': '\n' })).toThrow(
      `the variable named is empty; the value does not look like a variable name ${NOT_SHOWN}`,
    );
  });
});
