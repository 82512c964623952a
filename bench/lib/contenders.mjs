// The things being compared. Each `start` resolves to a running instance:
//   { base, headers, pid, stop() }
// where `base` is the origin clients talk to, `headers` what a client must add itself
// (only "direct" needs the token), and `pid` the process whose RSS is measured (null: none).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, lineReader, startProcess, waitForOk, which } from './procs.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PROXY_CLI = join(ROOT, 'dist', 'cli.js');
const EXPRESS_BASELINE = fileURLToPath(new URL('../baselines/express-hpm.mjs', import.meta.url));
export const PROBE_PATH = '/API/item/VX-1001';

/** Headroom for cold start's 10,000 connections plus as many upstream ones. */
const NOFILE = 65536;

/**
 * A contender process listening on 127.0.0.1:`port`; resolves once it answers the probe
 * unless `wait` is false (cold start measures that part itself).
 */
function spawned(proc, port, ctx, wait, cleanup = () => undefined) {
  const instance = {
    base: `http://127.0.0.1:${port}`,
    headers: {},
    pid: proc.pid,
    spawnedAt: performance.timeOrigin + performance.now(),
    stop: async () => {
      await proc.stop();
      cleanup();
    },
  };
  return wait ? ready(instance, proc, ctx.startTimeoutMs) : instance;
}

async function ready(instance, proc, timeoutMs) {
  try {
    await waitForOk(instance.base + PROBE_PATH, instance.headers, proc, timeoutMs);
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

const proxy = {
  name: 'proxy',
  label: 'this proxy',
  available: () => true,
  /** `wait: false` returns as soon as the process is spawned (cold start measures the rest). */
  async start(ctx, { wait = true, nodeArgs = [] } = {}) {
    const port = await freePort();
    const proc = startProcess('proxy', process.execPath, [...nodeArgs, PROXY_CLI, 'run'], {
      nofile: NOFILE,
      cwd: ctx.workDir,
      env: {
        PATH: process.env.PATH,
        VIDISPINE_URL: ctx.upstream.base,
        VIDISPINE_USER: ctx.user.name,
        VIDISPINE_PASSWORD: ctx.user.password,
        PROXY_LISTEN: `127.0.0.1:${port}`,
        OPS_LISTEN: 'off',
        TOKEN_SECONDS: '3600',
        LOG_LEVEL: 'warn',
        // stop at once when the harness is done with it (and write the CPU profile)
        SHUTDOWN_DELAY_SECONDS: '0',
        SHUTDOWN_DRAIN_SECONDS: '1',
      },
    });
    return spawned(proc, port, ctx, wait);
  },
};

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
    const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
    mkdirSync(join(dir, 'logs'));
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig({ dir, port, upstreamPort: ctx.upstream.port, token: ctx.token }),
    );
    const proc = startProcess(
      'nginx',
      which('nginx'),
      ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')],
      { nofile: NOFILE },
    );
    return spawned(proc, port, ctx, wait, () => rmSync(dir, { recursive: true, force: true }));
  },
};

const express = {
  name: 'express',
  label: 'Express + http-proxy-middleware',
  available: () => true,
  async start(ctx, { wait = true } = {}) {
    const port = await freePort();
    const proc = startProcess('express', process.execPath, [EXPRESS_BASELINE], {
      nofile: NOFILE,
      env: {
        PATH: process.env.PATH,
        TARGET: ctx.upstream.base,
        TOKEN: ctx.token,
        PORT: String(port),
      },
    });
    return spawned(proc, port, ctx, wait);
  },
};

/** Column order of the report. */
export const CONTENDERS = [direct, nginx, express, proxy];

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
