// The things being compared. Each `start` resolves to a running instance:
//   { base, headers, pid, spawnedAt, readyUrl, stop() }
// where `base` is the origin clients talk to, `headers` what a client must add itself
// (only "direct" needs the token), `pid` the process whose RSS and CPU are measured (null:
// none), and `readyUrl` what answers 200 once it can serve (this proxy's /readyz; the
// others hold a token minted up front, so their first forwarded answer); this proxy also
// has `metricsUrl`, its Prometheus endpoint.
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoProxy } from './go.mjs';
import { OptionError } from './options.mjs';
import {
  freePort,
  lineReader,
  makeTempDir,
  removeTempDir,
  startProcess,
  waitForOk,
  which,
} from './procs.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PROXY_CLI = join(ROOT, 'dist', 'cli.js');
const baseline = (file) => fileURLToPath(new URL(`../baselines/${file}`, import.meta.url));
export const PROBE_PATH = '/API/item/VX-1001';

/** Headroom for cold start's 10,000 connections plus as many upstream ones. */
const NOFILE = 65536;

const now = () => performance.timeOrigin + performance.now();

/**
 * A contender process listening on 127.0.0.1:`port`; resolves once it answers the probe
 * unless `wait` is false (cold and start-to-ready measure that part themselves). One with a
 * readiness URL of its own (this proxy's /readyz) must answer the probe as well, as every
 * other contender has by then: what its first request loads (undici's pool) is not timed
 * as part of the first load point, which with --warmup=0 could then complete no request.
 */
function spawned(
  proc,
  port,
  ctx,
  wait,
  { spawnedAt, readyUrl, metricsUrl, cleanup = () => undefined },
) {
  const base = `http://127.0.0.1:${port}`;
  const probeUrl = base + (ctx.probePath ?? PROBE_PATH);
  const instance = {
    base,
    headers: {},
    pid: proc.pid,
    spawnedAt,
    readyUrl: readyUrl ?? probeUrl,
    metricsUrl,
    proc,
    stop: async () => {
      await proc.stop();
      cleanup();
    },
  };
  return wait ? ready(instance, probeUrl, ctx.startTimeoutMs) : instance;
}

async function ready(instance, probeUrl, timeoutMs) {
  try {
    for (const url of new Set([instance.readyUrl, probeUrl])) {
      await waitForOk(url, instance.headers, instance.proc, timeoutMs);
    }
  } catch (err) {
    await instance.stop();
    throw err;
  }
  return instance;
}

const direct = {
  name: 'direct',
  label: 'direct (no proxy)',
  available: () => true,
  async start(ctx) {
    return {
      base: ctx.upstream.base,
      headers: { authorization: `token ${ctx.token}` },
      pid: null,
      stop: async () => {},
    };
  },
};

/**
 * This proxy as a sidecar runs it: environment configuration, one user, the ops listener on.
 * A variant runs another build (`cli`), Node.js binary (`node`), Node.js flags or
 * environment, side by side with the default one.
 */
function proxyContender({ name = 'proxy', label = 'this proxy', cli = PROXY_CLI, node, ...fixed }) {
  const program = node ?? process.execPath;
  return {
    name,
    label,
    available: () => (existsSync(cli) ? true : `${cli} missing (npm run build)`),
    /** `nodeArgs` go before the script (profiling, tracing); `env` adds to the environment. */
    async start(ctx, { wait = true, nodeArgs = [], env = {} } = {}) {
      const port = await freePort();
      const opsPort = await freePort();
      const args = [...(fixed.nodeArgs ?? []), ...nodeArgs, cli, 'run'];
      const spawnedAt = now();
      const proc = startProcess(name, program, args, {
        nofile: NOFILE,
        cwd: ctx.workDir,
        env: {
          PATH: process.env.PATH,
          VIDISPINE_URL: ctx.upstream.base,
          VIDISPINE_USER: ctx.user.name,
          VIDISPINE_PASSWORD: ctx.user.password,
          PROXY_LISTEN: `127.0.0.1:${port}`,
          OPS_LISTEN: `127.0.0.1:${opsPort}`,
          TOKEN_SECONDS: '3600',
          LOG_LEVEL: 'warn',
          // stop at once when the harness is done with it (and write the CPU profile)
          SHUTDOWN_DELAY_SECONDS: '0',
          SHUTDOWN_DRAIN_SECONDS: '1',
          ...fixed.env,
          ...env,
        },
      });
      return spawned(proc, port, ctx, wait, {
        spawnedAt,
        readyUrl: `http://127.0.0.1:${opsPort}/readyz`,
        metricsUrl: `http://127.0.0.1:${opsPort}/metrics`,
      });
    },
  };
}

/**
 * This proxy (`cli`) alone in front of `upstreamUrl` for alice, on free ports, once its
 * /readyz answers: for the scripts that measure it apart from the other contenders. `env`
 * adds to its environment; `nofile` raises its file limit.
 */
export async function startLoneProxy(cli, upstreamUrl, { env = {}, nofile } = {}) {
  const port = await freePort();
  const opsPort = await freePort();
  const proc = startProcess('proxy', process.execPath, [cli, 'run'], {
    nofile,
    env: {
      PATH: process.env.PATH,
      VIDISPINE_URL: upstreamUrl,
      VIDISPINE_USER: 'alice',
      VIDISPINE_PASSWORD: 'alice-password',
      PROXY_LISTEN: `127.0.0.1:${port}`,
      OPS_LISTEN: `127.0.0.1:${opsPort}`,
      TOKEN_SECONDS: '3600',
      LOG_LEVEL: 'error',
      SHUTDOWN_DELAY_SECONDS: '0',
      ...env,
    },
  });
  await waitForOk(`http://127.0.0.1:${opsPort}/readyz`, {}, proc);
  return { port, proc };
}

/**
 * `--variant "NAME WORD..."`: this program run another way. Each word is a Node.js flag
 * (`--max-semi-space-size=1`), an environment variable (`NODE_COMPILE_CACHE=/tmp/cc`), the
 * CLI to run (a path ending in `.js`, e.g. another build's dist/cli.js) or the Node.js
 * binary (any other path). Used by bench:inject too.
 */
export function parseVariant(spec) {
  const [name, ...words] = spec.trim().split(/\s+/);
  if (!/^[\w.-]+$/.test(name ?? '')) throw new OptionError(`--variant "${spec}": name it first`);
  const variant = { name, nodeArgs: [], env: {} };
  for (const word of words) {
    const env = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (env) variant.env[env[1]] = env[2];
    else if (word.startsWith('-')) variant.nodeArgs.push(word);
    else if (word.endsWith('.js')) variant.cli = resolve(word);
    else variant.node = resolve(word);
  }
  return variant;
}

/** `--variant "NAME WORD..."`: a second column of this proxy. */
export function proxyVariant(spec) {
  const { name, ...variant } = parseVariant(spec);
  return proxyContender({ name: `proxy:${name}`, label: `this proxy (${name})`, ...variant });
}

function nginxConfig({ dir, port, upstreamPort, token }) {
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};` : '';
  return `${user}
daemon off;
master_process on;
worker_processes ${process.env.BENCH_NGINX_WORKERS ?? 1};
worker_rlimit_nofile ${NOFILE};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream vidispine {
    server 127.0.0.1:${upstreamPort};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    client_max_body_size 0;
    location / {
      proxy_pass http://vidispine;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "token ${token}";
      proxy_request_buffering off;
      client_body_buffer_size 1m;
      proxy_buffer_size 64k;
      proxy_buffers 8 1m;
      proxy_busy_buffers_size 2m;
      proxy_max_temp_file_size 0;
    }
  }
}
`;
}

const nginx = {
  name: 'nginx',
  label: 'nginx',
  available: () => (which('nginx') ? true : 'nginx not on PATH (apt-get install nginx-light)'),
  async start(ctx, { wait = true } = {}) {
    const port = await freePort();
    const dir = makeTempDir('bench-nginx-');
    mkdirSync(join(dir, 'logs'));
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig({ dir, port, upstreamPort: ctx.upstream.port, token: ctx.token }),
    );
    const spawnedAt = now();
    const proc = startProcess(
      'nginx',
      which('nginx'),
      ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')],
      { nofile: NOFILE },
    );
    return spawned(proc, port, ctx, wait, {
      spawnedAt,
      cleanup: () => removeTempDir(dir),
    });
  },
};

/**
 * A baseline program that forwards to TARGET with TOKEN attached and listens on PORT; the
 * command is resolved at start (the Go one is compiled first).
 */
function forwarder({ name, label, available, command }) {
  return {
    name,
    label,
    available,
    async start(ctx, { wait = true } = {}) {
      const port = await freePort();
      const [program, args] = await command();
      const spawnedAt = now();
      const proc = startProcess(name, program, args, {
        nofile: NOFILE,
        env: {
          PATH: process.env.PATH,
          TARGET: ctx.upstream.base,
          TOKEN: ctx.token,
          PORT: String(port),
        },
      });
      return spawned(proc, port, ctx, wait, { spawnedAt });
    },
  };
}

const nodeBaseline = (file) => async () => [process.execPath, [baseline(file)]];

const go = forwarder({
  name: 'go',
  label: 'Go ReverseProxy',
  available: () => (which('go') ? true : 'go not on PATH (apt-get install golang-go)'),
  command: async () => [await buildGoProxy(), []],
});

const nodeHttp = forwarder({
  name: 'nodehttp',
  label: 'node:http 20 lines',
  available: () => true,
  command: nodeBaseline('node-http.mjs'),
});

const undici = forwarder({
  name: 'undici',
  label: 'undici Pool 20 lines',
  available: () => true,
  command: nodeBaseline('undici-pool.mjs'),
});

const express = forwarder({
  name: 'express',
  label: 'Express + http-proxy-middleware',
  available: () => true,
  command: nodeBaseline('express-hpm.mjs'),
});

/** Column order of the report. */
export const CONTENDERS = [direct, nginx, go, nodeHttp, undici, express, proxyContender({})];

/** Starts the bench upstream; resolves to { base, port, proc }. */
export async function startUpstream() {
  const proc = startProcess(
    'upstream',
    process.execPath,
    [fileURLToPath(new URL('../upstream.mjs', import.meta.url))],
    { nofile: NOFILE },
  );
  const { port } = JSON.parse(await lineReader(proc).next());
  return { base: `http://127.0.0.1:${port}`, port, proc };
}
