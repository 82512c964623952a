import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runCli } from '../support/cli';
import { createSimulator } from '../../src/simulator';
import { basic, call, tokenAuth } from '../support/http';

const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCli(args: string[]): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'simulate', '--listen', '127.0.0.1:0', ...args], {
      env: { PATH: process.env.PATH },
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      // The banner is written at once; wait for its last line.
      if (m && stdout.includes('Try: curl')) resolve({ child, url: m[1], stdout, exit });
    });
    void exit.then(({ code }) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
}

describe('simulate command', () => {
  it('serves the API with the demo users and exits 0 on SIGTERM', async () => {
    const run = await startCli([]);
    expect(run.stdout).toContain('admin/admin (_administrator)');
    expect(run.stdout).toContain('alice/alice-password');
    const t = await call(run.url, {
      path: '/API/token',
      headers: { authorization: basic('admin', 'admin') },
    });
    expect(t.status).toBe(200);
    const who = await call(run.url, {
      path: '/API/whoami',
      headers: { authorization: tokenAuth(t.text) },
    });
    expect(who.text).toBe('admin');
    expect((await call(run.url, { path: '/__sim/stats' })).status).toBe(404);
    const signed = `${run.url}/APInoauth/import/raw?passkey=demo-upload-passkey`;
    expect(run.stdout).toContain(`Signed uploads: POST ${signed}`);
    expect((await call(signed, { path: '', method: 'POST', body: 'abc' })).status).toBe(200);
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });

  it('stops on SIGHUP, as when its terminal is closed, rather than linger holding its port', async () => {
    const run = await startCli([]);
    run.child.kill('SIGHUP');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });

  it('loads a YAML users file, hides its passwords, enables --control, exits 0 on SIGINT', async () => {
    const users = file(
      'users.yaml',
      'users:\n  - name: ops\n    password: s3cret-pass\n    roles: [_administrator]\n  - name: ingest\n    password: ingest-pass\n    accessKeys: [{ id: VSIDINGEST0000000001, secret: ingest-key-1 }]\n',
    );
    const run = await startCli([
      '--users',
      users,
      '--control',
      '--max-seconds',
      '120',
      '--above-max',
      'cap',
      // Coherent under cap: tokens asked without `seconds` get the maximum.
      '--default-seconds',
      '300',
      '--upload-passkey',
      'private-key-9',
    ]);
    expect(run.stdout).toContain('ops (_administrator)');
    expect(run.stdout).toContain('ingest');
    expect(run.stdout).not.toMatch(/s3cret-pass|ingest-pass|ingest-key-1/);
    expect(
      (
        await call(run.url, {
          path: '/API/token',
          headers: { authorization: basic('admin', 'admin') },
        })
      ).status,
    ).toBe(401);
    const capped = await call(run.url, {
      path: '/API/token?seconds=999',
      headers: { authorization: basic('VSIDINGEST0000000001', 'ingest-key-1') },
    });
    expect(capped.status).toBe(200);
    const info = await call(run.url, {
      path: '/__sim/tokens/info',
      method: 'POST',
      body: JSON.stringify({ token: capped.text }),
    });
    expect(JSON.parse(info.text)).toMatchObject({ user: 'ingest', seconds: 120 });
    // A passkey given on the command line is not shown, and replaces the demo one.
    expect(run.stdout).not.toContain('private-key-9');
    expect(run.stdout).toContain('/APInoauth/import/raw?passkey=KEY');
    const upload = (key: string): ReturnType<typeof call> =>
      call(run.url, { path: `/APInoauth/import/raw?passkey=${key}`, method: 'PUT', body: 'x' });
    expect((await upload('private-key-9')).status).toBe(200);
    expect((await upload('demo-upload-passkey')).status).toBe(403);
    run.child.kill('SIGINT');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });

  it('takes the fidelity switches: no /API/token, no /API/whoami, RunAs refused with 401, Reason headers', async () => {
    const run = await startCli([
      '--no-token-endpoint',
      '--no-whoami',
      '--refused-runas-status',
      '401',
      '--reason-header',
    ]);
    const alice = basic('alice', 'alice-password');
    expect(
      (await call(run.url, { path: '/API/token', headers: { authorization: alice } })).status,
    ).toBe(404);
    expect(
      (await call(run.url, { path: '/API/whoami', headers: { authorization: alice } })).status,
    ).toBe(404);
    const refused = await call(run.url, {
      path: '/API/slow?ms=0',
      headers: { authorization: alice, runas: 'bob' },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.reason).toMatch(/RunAs/);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('accepts a JSON list of users', async () => {
    const users = file('users.json', JSON.stringify([{ name: 'solo', password: 'pw' }]));
    const run = await startCli(['--users', users]);
    expect(
      (await call(run.url, { path: '/API/token', headers: { authorization: basic('solo', 'pw') } }))
        .status,
    ).toBe(200);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it.each([
    ['broken.yaml', 'users: [\n  - name: a\n', /not valid YAML or JSON/],
    ['nopass.json', '[{"name":"a"}]', /\[0\]\.password/],
    [
      'unknown.yaml',
      'users:\n  - name: a\n    password: hunter2\n    admin: true\n',
      /users\[0\].*admin/,
    ],
    [
      'dup.yaml',
      '- {name: a, password: hunter2}\n- {name: a, password: other}\n',
      /users\[1\]\.name "a" is a duplicate/,
    ],
    ['colon.yaml', '- {name: "a:b", password: hunter2}\n', /must not contain ':'/],
    // A slip of a key is named with the key meant, as the proxy's configuration does, and
    // the key it stands for is not also said to be missing.
    [
      'pasword.yaml',
      'users:\n  - name: a\n    pasword: hunter2\n',
      /: users\[0\]\.pasword: unknown key; did you mean password\?$/m,
    ],
    [
      'role.yaml',
      '- {name: a, password: hunter2, role: [_administrator]}\n',
      /: users\[0\]\.role: unknown key; did you mean roles\?$/m,
    ],
    [
      'key-typo.yaml',
      '- {name: a, password: x, accessKeys: [{id: VSIDA, secrett: hunter2}]}\n',
      /: users\[0\]\.accessKeys\[0\]\.secrett: unknown key; did you mean secret\?$/m,
    ],
    // Each problem in the proxy's configuration's words, never the schema library's.
    ['no-users.yaml', 'users: []\n', /: users: list at least one user$/m],
    ['empty-list.json', '[]', /: users: list at least one user$/m],
    [
      'status.yaml',
      '- {name: a, password: hunter2, accessKeys: [{id: VSIDA, secret: k, status: PAUSED}]}\n',
      /: users\[0\]\.accessKeys\[0\]\.status: must be ACTIVE or INACTIVE$/m,
    ],
    [
      'empty-name.yaml',
      '- {name: "", password: hunter2}\n',
      /: users\[0\]\.name: must not be empty$/m,
    ],
    [
      'empty-id.yaml',
      '- {name: a, password: x, accessKeys: [{id: "", secret: hunter2}]}\n',
      /: users\[0\]\.accessKeys\[0\]\.id: must not be empty$/m,
    ],
    [
      'empty-runas.yaml',
      '- {name: a, password: hunter2, runAsUsers: [""]}\n',
      /: users\[0\]\.runAsUsers\[0\]: must not be empty$/m,
    ],
    // Only the roles the simulator gives a meaning: another would be ignored without a word.
    [
      'unknown-role.yaml',
      '- {name: a, password: hunter2, roles: [_runas, _admin]}\n',
      /: users\[0\]\.roles\[1\]: must be _administrator or _runas \(the roles the simulator models\)$/m,
    ],
    ['missing.yaml', '- {name: a}\n', /: users\[0\]\.password: required$/m],
    ['number.yaml', '- {name: a, password: 5}\n', /: users\[0\]\.password: must be a string$/m],
    // No space after the colon: one key to YAML, holding the password; it is not echoed.
    [
      'nospace.yaml',
      '- {name: a, password:hunter2}\n',
      /: users\[0\]: an unknown key, not shown since it may hold a value \(a missing space after a colon\?\); did you mean "password: …"\?$/m,
    ],
    // A block where a password belongs: the YAML reader's warning would quote it.
    ['block.yaml', '- {name: a, password: {{hunter2}}}\n', /\[0\]\.password/],
    ['empty.yaml', '', /\(document\)/],
    ['scalar.yaml', 'just text', /\(document\)/],
    // A mapping without `users`: a slip of that key, or one user written without the list.
    [
      'typo.yaml',
      'user:\n  - {name: a, password: hunter2}\n',
      /\(document\): expected a list of users, or a mapping with that list under "users:"; found "user"$/m,
    ],
    [
      'one-user.yaml',
      'name: a\npassword: hunter2\n',
      /\(document\): expected a list of users, .*; found "name", "password"$/m,
    ],
  ])('a bad users file %s → exit 2 naming the problem', async (name, text, message) => {
    const r = await runCli(['simulate', '--listen', '127.0.0.1:0', '--users', file(name, text)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(name);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a users file with several problems: each on a line of its own, at once', async () => {
    const users = file(
      'several.yaml',
      '- {name: a, pasword: hunter2}\n- {name: b, password: y, rolse: []}\n',
    );
    const r = await runCli(['simulate', '--listen', '127.0.0.1:0', '--users', users]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `vidispine-auth-proxy simulate: --users ${users}: users[0].pasword: unknown key; did you mean password?`,
      `vidispine-auth-proxy simulate: --users ${users}: users[1].rolse: unknown key; did you mean roles?`,
    ]);
  });

  it.each([
    [['--users', '/nonexistent/users.yaml'], /cannot read \(ENOENT\)/],
    [['--listen', 'localhost'], /--listen "localhost"/],
    [['--listen', '127.0.0.1:70000'], /port 0\.\.65535/],
    [['--above-max', 'maybe'], /--above-max "maybe"/],
    [['--max-seconds', '0'], /--max-seconds "0"/],
    [['--upload-passkey', ''], /--upload-passkey: expected a value/],
    [
      ['--default-seconds', '120'],
      /--default-seconds "120": must be at most --max-seconds \(60\), or --above-max cap/,
    ],
    [
      ['--default-seconds', '90', '--max-seconds', '80'],
      /--default-seconds "90": must be at most --max-seconds \(80\)/,
    ],
    [['--max-seconds', '30'], /--max-seconds "30": below --default-seconds \(default 60\)/],
    [['--refused-runas-status', '402'], /--refused-runas-status "402"/],
    [['--frobnicate'], /frobnicate/],
  ])('bad arguments %j → exit 2', async (args, message) => {
    const r = await runCli(['simulate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--help lists every option the README documents, with its default', async () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## The Vidispine simulator'));
    // The paragraph under the heading: the synopsis and what each switch does.
    const documented = new Set(section.split('\n\n')[1].match(/--[a-z-]+/g));
    expect(documented.size).toBeGreaterThan(5);
    const help = await runCli(['simulate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    const listed = help.stdout.match(/^ {2}(?:-\w, | {4})--[a-z-]+/gm)?.map((l) => l.slice(6));
    expect(listed).toEqual(expect.arrayContaining([...documented]));
    expect(help.stdout).toMatch(/^ {6}--refused-runas-status 401\|403 +.+ \(default 403\)$/m);
    expect(help.stdout).toMatch(/^ {6}--listen ADDR +.+ \(default 127\.0\.0\.1:18080\)$/m);
    // Both forms the loader takes: a bare list, or the list under `users:`.
    expect(help.stdout).toMatch(/^ {6}--users FILE +.*list of users.*under users:/m);
    expect((await runCli(['simulate', '-h', '--listen', 'nonsense'])).stdout).toBe(help.stdout);
    const general = await runCli(['--help']);
    expect(general.stdout).toContain('simulate --help');
    expect(general.stdout).not.toContain('--refused-runas-status');
  });

  it("the README's users file loads as written, and each of its users works as described", async () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const from = readme.indexOf('A `--users` file');
    const section = readme.slice(from, readme.indexOf('\n## ', from));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toBeDefined();
    const run = await startCli(['--users', file('readme-users.yaml', example ?? '')]);
    const token = (user: string, password: string, path = '/API/token', runAs?: string) =>
      call(run.url, {
        path,
        headers: { authorization: basic(user, password), ...(runAs ? { runas: runAs } : {}) },
      });
    try {
      expect((await token('admin', 'admin-secret', '/API/user/ingest/token')).status).toBe(200);
      expect((await token('VSIDINGEST0000000001', 'ingest-key')).status).toBe(200);
      expect((await token('svc', 'svc-secret', '/API/token', 'ingest')).status).toBe(200);
      expect((await token('svc', 'svc-secret', '/API/token', 'admin')).status).toBe(403);
      expect((await token('retired', 'retired-secret')).status).toBe(409);
    } finally {
      run.child.kill('SIGTERM');
      await run.exit;
    }
  });

  it('exits 1 when the address is taken', async () => {
    const other = createSimulator();
    const url = await other.listen();
    try {
      const r = await runCli(['simulate', '--listen', url.replace('http://', '')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('EADDRINUSE');
    } finally {
      await other.close();
    }
  });
});
