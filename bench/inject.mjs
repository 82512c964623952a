// `npm run bench:inject`: the sidecar injection webhook (`dist/cli.js inject`) under the
// load of an API server — AdmissionReviews of a realistic pod on 50 kept-alive TLS
// connections: at a steady rate, in bursts of 50 at once, and 50 in flight back to back —
// and at rest: its idle RSS after start and after the load, and its CPU per review. The
// load comes from a Go program of its own (bench/clients/admission), each review timed from
// its write to the last byte of its answer. Beside it, as the floor, a bare node:https
// server that reads and parses the same reviews and writes the same answer
// (bench/baselines/bare-https-webhook.mjs); the webhook's CPU per review is printed as a
// ratio to that server's, shape by shape and round by round. See bench/README.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  cpuSeconds,
  freePort,
  installCleanup,
  killAll,
  lineReader,
  makeTempDir,
  removeTempDir,
  rssMiB,
  runToEnd,
  startProcess,
  waitForOk,
} from './lib/procs.mjs';
import { parseVariant } from './lib/contenders.mjs';
import { buildAdmissionClient } from './lib/go.mjs';
import { rotated } from './lib/rounds.mjs';
import {
  nonNegativeNumber,
  optionsOrExit,
  parseCommandLine,
  positiveNumber,
  wholeNumber,
} from './lib/options.mjs';

const HELP = `Usage: npm run bench:inject -- [options]

  --concurrency=N   connections, burst size and reviews in flight (default 50)
  --rate=N          reviews/s of the open-loop scenario (default 200)
  --duration=S      seconds measured per scenario (default 10)
  --warmup=S        seconds of load before each (default 2)
  --rounds=N        measure every shape N times, the contenders taking turns (default 1)
  --variant="NAME WORD..."
                    another webhook beside this build's, taking turns with it (repeatable);
                    each WORD is a Node.js flag, VAR=value, another build's cli.js, or a
                    Node.js binary (as in npm run bench)
  --no-reference    leave out the bare node:https server (the floor the CPU ratios use)
  --log-level=L     the webhook's LOG_LEVEL (default info, as in production: denials only;
                    debug adds a line per review, to see what it costs)
  --cpu-prof        run the webhook under node --cpu-prof (profiles in bench/results/profiles;
                    summarise with node bench/cpuprofile-top.mjs FILE)
  --out=FILE        JSON results (default bench/results/inject-<time>.json)
`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const RESULTS = join(ROOT, 'bench', 'results');
const TARGET_P99_MS = 5;
const REFERENCE = 'bare https';
const BARE_SERVER = join(ROOT, 'bench', 'baselines', 'bare-https-webhook.mjs');
const say = (text) => process.stderr.write(`${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The webhook's own view (its admission_duration_seconds histogram, from the request to the
 * answer written): how many reviews it has answered, and how many within the target. The
 * bare server only counts its answers.
 */
async function withinTarget(opsPort, reference) {
  if (reference) {
    const { count } = await (await fetch(`http://127.0.0.1:${opsPort}/`)).json();
    return { within: Number.NaN, count };
  }
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const family = 'vidispine_auth_proxy_admission_duration_seconds';
  const value = (re) => Number(re.exec(text)?.[1] ?? 0);
  return {
    within: value(new RegExp(`^${family}_bucket\\{le="${TARGET_P99_MS / 1000}"\\} (\\S+)$`, 'm')),
    count: value(new RegExp(`^${family}_count (\\S+)$`, 'm')),
  };
}

/**
 * Seconds the process's main thread has spent runnable but waiting for a CPU (Linux
 * schedstat; undefined elsewhere): on a shared machine, the part of a review's latency that
 * is other programs' CPU, not the webhook's.
 */
function cpuWaitSeconds(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return undefined;
  }
}

/** The webhook's answer to `body` (a review), from this build's own modules: text in, text out. */
function answerOf() {
  const require = createRequire(import.meta.url);
  const { admit, parseReview, reviewResponse } = require(join(ROOT, 'dist', 'inject', 'review.js'));
  const defaults = {
    image: 'registry.example.com/vidispine-auth-proxy:0.1.0',
    imagePullPolicy: 'IfNotPresent',
    vidispineUrl: 'http://vidispine.media.svc:8080',
    imagePullSecrets: [],
    uid: 65532,
    resources: {
      requests: { cpu: '25m', memory: '96Mi' },
      limits: { cpu: '500m', memory: '192Mi' },
    },
  };
  return (body) => {
    const request = parseReview(JSON.parse(body));
    return reviewResponse(request.uid, admit(request, defaults));
  };
}

/**
 * The webhook's own work per review, in this process: JSON parse, the AdmissionReview and
 * pod checks, the decision and the patch, the answer serialised — everything but HTTPS and
 * the log line. Microseconds of CPU, over `rounds` reviews after a warm-up.
 */
function logicMicroseconds(body, rounds = 20_000) {
  const answer = answerOf();
  const one = () => answer(body);
  for (let i = 0; i < 2000; i++) one();
  const before = process.cpuUsage();
  for (let i = 0; i < rounds; i++) one();
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / rounds) * 10) / 10;
}

/** A self-signed serving certificate for 127.0.0.1 (its own CA, as the caBundle). */
async function servingPair() {
  x509.cryptoProvider.set(webcrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=vidispine-auth-proxy-injector.bench.svc',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
    ],
  });
  const key = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(key, 'PRIVATE KEY') };
}

/** A pod as a ReplicaSet creates it: app and log-shipper containers, init container, volumes, the service-account token. */
function podReview() {
  const env = Array.from({ length: 12 }, (_, i) => ({
    name: `SHOP_SETTING_${i}`,
    value: `value-${i}`,
  }));
  const resources = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } };
  const tokenMount = {
    name: 'kube-api-access-7xk2p',
    readOnly: true,
    mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
  };
  const container = (name, image) => ({
    name,
    image,
    ports: name === 'shop' ? [{ name: 'http', containerPort: 3000, protocol: 'TCP' }] : undefined,
    env,
    resources,
    volumeMounts: [{ name: 'data', mountPath: '/data' }, tokenMount],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  });
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'shop-7d9c6b5f4-',
      namespace: 'media',
      labels: {
        app: 'shop',
        'pod-template-hash': '7d9c6b5f4',
        'vidispine-auth-proxy/inject': 'true',
      },
      annotations: {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/secret': 'shop-vidispine',
        'vidispine-auth-proxy/env': 'VIDISPINE_API',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'shop-7d9c6b5f4',
          uid: 'a1b2c3d4',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      initContainers: [container('migrate', 'registry.example.com/shop:2')],
      containers: [
        container('shop', 'registry.example.com/shop:2'),
        container('log-shipper', 'registry.example.com/shipper:1'),
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        {
          name: 'kube-api-access-7xk2p',
          projected: {
            defaultMode: 420,
            sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
          },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'shop',
      securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000 },
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
    },
  };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'media',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** The bare node:https server, answering every review with `dir`/answer.json. */
async function startReference(contender, dir, profile) {
  const opsPort = await freePort();
  const started = performance.now();
  const proc = startProcess(REFERENCE, process.execPath, [...profile, BARE_SERVER], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      COUNT_PORT: String(opsPort),
      CERT_FILE: join(dir, 'tls.crt'),
      KEY_FILE: join(dir, 'tls.key'),
      ANSWER_FILE: join(dir, 'answer.json'),
    },
  });
  const { port } = JSON.parse(await lineReader(proc).next());
  return { ...contender, port, opsPort, proc, readyMs: performance.now() - started };
}

/** Each contender in its own process: this build first, then each `--variant`, then the reference. */
async function startWebhook(contender, dir, logLevel, profile) {
  if (contender.reference) return startReference(contender, dir, profile);
  // Ports chosen here: the `listening` line that names ports it picked itself is not
  // logged above info.
  const port = await freePort();
  const opsPort = await freePort();
  const started = performance.now();
  const proc = startProcess(
    `inject ${contender.name}`,
    contender.node ?? process.execPath,
    [...profile, ...contender.nodeArgs, contender.cli ?? CLI, 'inject'],
    {
      env: {
        PATH: process.env.PATH,
        WEBHOOK_LISTEN: `127.0.0.1:${port}`,
        WEBHOOK_CERT_FILE: join(dir, 'tls.crt'),
        WEBHOOK_KEY_FILE: join(dir, 'tls.key'),
        OPS_LISTEN: `127.0.0.1:${opsPort}`,
        SIDECAR_IMAGE: 'registry.example.com/vidispine-auth-proxy:0.1.0',
        SIDECAR_VIDISPINE_URL: 'http://vidispine.media.svc:8080',
        SHUTDOWN_DELAY_SECONDS: '0',
        LOG_LEVEL: logLevel,
        ...contender.env,
      },
    },
  );
  // Whatever it logs is read and dropped.
  proc.child.stdout.resume();
  await waitForOk(`http://127.0.0.1:${opsPort}/readyz`, {}, proc, 10_000, 5);
  return { ...contender, port, opsPort, proc, readyMs: performance.now() - started };
}

/** One scenario against one webhook: the generator's figures and the webhook's own. */
async function measure(webhook, client, params) {
  const { pid } = webhook.proc;
  const before = await withinTarget(webhook.opsPort, webhook.reference);
  const [cpuAtStart, waitBefore] = [cpuSeconds(pid), cpuWaitSeconds(pid)];
  const out = await runToEnd('admission client', client, [
    JSON.stringify({ ...params, port: webhook.port }),
  ]);
  const load = JSON.parse(out.trim().split('\n').pop());
  const [used, waited] = [cpuSeconds(pid) - cpuAtStart, cpuWaitSeconds(pid) - waitBefore];
  const after = await withinTarget(webhook.opsPort, webhook.reference);
  const answered = Math.max(1, after.count - before.count);
  // Its CPU over all shapes is taken over these windows only: not the other contenders' turns,
  // nor the pauses between.
  webhook.windowCpuSeconds += used;
  webhook.windowReviews += answered;
  return {
    ...load,
    loadAverage: Math.round(loadavg()[0] * 10) / 10,
    serverWithinTarget: (after.within - before.within) / answered,
    serverCpuMsPerReview: Math.round((used * 1e6) / answered) / 1000,
    serverCpuWaitMsPerReview: Number.isNaN(waited)
      ? undefined
      : Math.round((waited * 1e6) / answered) / 1000,
  };
}

const range = (values, digits = 2) => {
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return lo === hi ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
};

/** Every option checked before any work starts (./lib/options.mjs). */
function parseOptions(argv) {
  const values = parseCommandLine(
    argv,
    {
      help: { type: 'boolean', short: 'h' },
      concurrency: { type: 'string', default: '50' },
      rate: { type: 'string', default: '200' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '1' },
      variant: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'log-level': { type: 'string', default: 'info' },
      reference: { type: 'boolean', default: true },
    },
    { allowNegative: true },
  );
  return {
    help: values.help === true,
    concurrency: wholeNumber(values.concurrency, 'concurrency'),
    rate: positiveNumber(values.rate, 'rate'),
    seconds: positiveNumber(values.duration, 'duration'),
    warmupSeconds: nonNegativeNumber(values.warmup, 'warmup'),
    rounds: wholeNumber(values.rounds, 'rounds'),
    variants: values.variant.map(parseVariant),
    out: values.out,
    cpuProf: values['cpu-prof'] === true,
    // the webhook refuses a level it does not know, at start, before the load is built
    logLevel: values['log-level'],
    reference: values.reference,
  };
}

async function main() {
  const options = optionsOrExit('bench:inject', () => parseOptions(process.argv.slice(2)));
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  const { concurrency, rate, seconds, warmupSeconds, rounds, logLevel } = options;
  const contenders = [
    { name: 'this build', nodeArgs: [], env: {} },
    ...options.variants,
    ...(options.reference ? [{ name: REFERENCE, nodeArgs: [], env: {}, reference: true }] : []),
  ];
  installCleanup('bench:inject');
  mkdirSync(RESULTS, { recursive: true });
  const dir = makeTempDir('vap-bench-inject-');
  try {
    const { certPem, keyPem } = await servingPair();
    writeFileSync(join(dir, 'tls.crt'), certPem);
    writeFileSync(join(dir, 'tls.key'), keyPem);
    const body = JSON.stringify(podReview());
    writeFileSync(join(dir, 'answer.json'), answerOf()(body));
    const profile = options.cpuProf
      ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'profiles')}`]
      : [];
    const webhooks = [];
    for (const contender of contenders)
      webhooks.push(await startWebhook(contender, dir, logLevel, profile));
    // Built once the webhooks have started: a --log-level they refuse stops the run first.
    const client = await buildAdmissionClient();
    await sleep(2000);
    for (const w of webhooks) {
      w.idleBefore = rssMiB(w.proc.pid);
      w.windowCpuSeconds = 0;
      w.windowReviews = 0;
      w.loads = {};
      say(
        `inject (${w.name}): listening after ${w.readyMs.toFixed(0)} ms, idle RSS ${w.idleBefore.toFixed(1)} MiB`,
      );
    }
    const scenarios = [
      ['rate', `${concurrency} connections, ${rate} reviews/s (open loop)`],
      ['burst', `bursts of ${concurrency} at once`],
      ['closed', `${concurrency} in flight back to back (capacity)`],
    ];
    const params = { ca: certPem, body, connections: concurrency, rate, seconds, warmupSeconds };
    for (let round = 0; round < rounds; round++) {
      for (const [mode, label] of scenarios) {
        for (const w of rotated(webhooks, round)) {
          say(
            `inject (${w.name}): ${label}, ${seconds} s${rounds > 1 ? `, round ${round + 1}` : ''}`,
          );
          (w.loads[mode] ??= []).push(await measure(w, client, { ...params, mode }));
        }
      }
    }
    await sleep(2000);
    for (const w of webhooks) {
      w.idleAfter = rssMiB(w.proc.pid);
      await w.proc.stop();
      w.cpuMsPerReview = Math.round((w.windowCpuSeconds * 1e6) / w.windowReviews) / 1000;
    }
    const [own] = webhooks;
    const reference = webhooks.find((w) => w.reference);
    const compared = webhooks.filter((w) => !w.reference);
    // Each round's CPU per review over the bare server's in the same round: the two ran in
    // the same minutes, under the same background load.
    const ratioTo = (ref, w) =>
      ref &&
      Object.fromEntries([
        ...scenarios.map(([mode]) => [
          mode,
          w.loads[mode].map(
            (l, i) =>
              Math.round((l.serverCpuMsPerReview / ref.loads[mode][i].serverCpuMsPerReview) * 100) /
              100,
          ),
        ]),
        ['allShapes', Math.round((w.cpuMsPerReview / ref.cpuMsPerReview) * 100) / 100],
      ]);
    const summary = (w) => ({
      name: w.name,
      cli: w.reference ? BARE_SERVER : (w.cli ?? CLI),
      readyMs: Math.round(w.readyMs),
      idleRssMiB: { afterStart: w.idleBefore, afterLoad: w.idleAfter },
      cpuMsPerReview: w.cpuMsPerReview,
      ...(w.reference ? {} : { cpuRatioToReference: ratioTo(reference, w) }),
      loads: w.loads,
    });
    const result = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        node: process.version,
        loadAverage: loadavg()[0],
      },
      concurrency,
      rate,
      rounds,
      logLevel,
      reviewBytes: body.length,
      // This build, its first round: what a run without --variant or --rounds reports.
      readyMs: Math.round(own.readyMs),
      idleRssMiB: { afterStart: own.idleBefore, afterLoad: own.idleAfter },
      cpuMsPerReview: own.cpuMsPerReview,
      logicMicrosecondsPerReview: logicMicroseconds(body),
      loads: Object.fromEntries(scenarios.map(([mode]) => [mode, own.loads[mode][0]])),
      contenders: webhooks.map(summary),
    };
    const ms = (value) => value.toFixed(3);
    const named = (w) => (webhooks.length > 1 ? ` [${w.name}]` : '');
    const row = (mode, label, l) =>
      `  ${label.padEnd(48)} ${String(l.perSecond).padStart(6)}/s  p50 ${l.p50Ms.toFixed(2).padStart(7)}  p90 ${l.p90Ms.toFixed(2).padStart(7)}  p99 ${l.p99Ms.toFixed(2).padStart(7)}  max ${l.maxMs.toFixed(2).padStart(7)} ms  errors ${l.errors}  load ${l.loadAverage.toFixed(1)}\n` +
      `    ${Number.isNaN(l.serverWithinTarget) ? '' : `inside the webhook ≤ ${TARGET_P99_MS} ms: ${(l.serverWithinTarget * 100).toFixed(1)} %; `}per review: webhook CPU ${ms(l.serverCpuMsPerReview)} ms` +
      (l.serverCpuWaitMsPerReview === undefined
        ? ''
        : `, webhook waiting for a CPU ${ms(l.serverCpuWaitMsPerReview)} ms`) +
      `, generator CPU ${ms(l.cpuMsPerReview)} ms` +
      (mode === 'rate' ? `; generator issued late p99 ${l.lateP99Ms.toFixed(2)} ms` : '');
    const worst = (loads) =>
      loads.reduce((a, b) => (b.errors > a.errors || b.p99Ms > a.p99Ms ? b : a));
    const verdict = (w, label, loads) => {
      const l = worst(loads);
      return `${l.errors === 0 && l.p99Ms < TARGET_P99_MS ? 'PASS' : 'FAIL'}  p99 < ${TARGET_P99_MS} ms, ${label.padEnd(48)} ${rounds > 1 ? `${range(loads.map((x) => x.p99Ms))} ms (worst of ${rounds})` : `${l.p99Ms.toFixed(2)} ms`}${named(w)}`;
    };
    const ranges = (w) =>
      scenarios.map(
        ([mode, label]) =>
          `  ${label.padEnd(48)} p50 ${range(w.loads[mode].map((l) => l.p50Ms))}  p99 ${range(w.loads[mode].map((l) => l.p99Ms))} ms  webhook CPU ${range(
            w.loads[mode].map((l) => l.serverCpuMsPerReview),
            3,
          )} ms/review  load ${range(
            w.loads[mode].map((l) => l.loadAverage),
            1,
          )}`,
      );
    const ratioLine = (w) => {
      const ratios = ratioTo(reference, w);
      const shapes = scenarios.map(([mode, label]) => `${label} ${range(ratios[mode])}`);
      return `  CPU per review ÷ the ${REFERENCE} server's, round by round: ${shapes.join('; ')}; over all shapes ${ratios.allShapes.toFixed(2)}`;
    };
    process.stdout.write(
      [
        '',
        `admission (${result.reviewBytes} B pod review, HTTPS keep-alive, log level ${logLevel}):`,
        ...webhooks.flatMap((w) => [
          ...(webhooks.length > 1
            ? [`${w.name}${w.reference ? ` (${BARE_SERVER})` : w.cli ? ` (${w.cli})` : ''}:`]
            : []),
          ...scenarios.flatMap(([mode, label]) => w.loads[mode].map((l) => row(mode, label, l))),
          ...(rounds > 1 ? [`  over ${rounds} rounds:`, ...ranges(w)] : []),
          `  webhook CPU per review over all shapes ${w.cpuMsPerReview} ms${w === own ? ` (its own logic, in-process: ${result.logicMicrosecondsPerReview} µs)` : ''}; idle RSS ${w.idleBefore.toFixed(1)} MiB after start, ${w.idleAfter.toFixed(1)} MiB after the load; listening ${Math.round(w.readyMs)} ms after spawn`,
          ...(reference && !w.reference ? [ratioLine(w)] : []),
        ]),
        '',
        ...compared.flatMap((w) =>
          scenarios.slice(0, 2).map(([mode, label]) => verdict(w, label, w.loads[mode])),
        ),
        '',
      ].join('\n'),
    );
    const out = options.out ?? join(RESULTS, `inject-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    say(`JSON: ${out}`);
  } finally {
    removeTempDir(dir);
  }
}

main().then(
  () => killAll(),
  (err) => {
    process.stderr.write(`bench:inject: ${err.message}\n`);
    killAll();
    process.exitCode = 1;
  },
);
