// Turns raw results into the printed tables — every contender's figures, then this proxy's
// figures as ratios to each of the others, then where its start-up time went — and checks
// the proxy against its targets. Scenarios measured in rounds show medians and ranges over
// the rounds, and their ratios and targets are taken within each round (./rounds.mjs).
import {
  COUNTS,
  figureByRound,
  inRounds,
  median,
  medianAndRange,
  ratio,
  ratioByRound,
} from './rounds.mjs';

const int = (v) => Math.round(v).toLocaleString('en-US');
const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3));
const mib = (v) => v.toFixed(1);
const one = (v) => (v >= 100 ? int(v) : v.toFixed(1));

/** One table row per figure: [scenario label, figure label, result key, field, format]. */
function rowsFor(opts) {
  const rows = [];
  for (const c of opts.connections) {
    const key = `small@${c}`;
    const label = `small GET, ${c} conn`;
    rows.push([label, 'req/s', key, 'rps', int]);
    rows.push(['', 'p50 ms', key, 'p50', ms]);
    rows.push(['', 'p99 ms', key, 'p99', ms]);
    rows.push(['', 'CPU µs/request', key, 'cpuUs', one]);
    rows.push(['', 'RSS after MiB', key, 'rss', mib]);
    rows.push(['', 'errors', key, 'errors', int]);
  }
  for (const mode of ['download', 'upload']) {
    rows.push([`${opts.sizeMiB} MiB ${mode}`, 'MiB/s', mode, 'mibps', int]);
    rows.push(['', 'CPU ms/GiB', mode, 'cpuMsPerGiB', int]);
    rows.push(['', 'peak RSS MiB', mode, 'rss', mib]);
  }
  rows.push([`start (${opts.starts}×, median)`, 'spawn to ready ms', 'start', 'readyMs', one]);
  rows.push(['', 'CPU ms to ready', 'start', 'cpuMs', one]);
  rows.push(['', 'idle RSS MiB', 'start', 'rss', mib]);
  if (opts.settle > 0)
    rows.push(['', `settled RSS MiB (${opts.settle} s)`, 'start', 'settledRss', mib]);
  rows.push(['', 'idle CPU µs/s', 'start', 'idleCpuUs', int]);
  rows.push(['', 'idle wake-ups/s', 'start', 'idleWakeups', int]);
  rows.push([`${opts.idle} idle conns`, 'RSS at start MiB', 'idle', 'rssStart', mib]);
  rows.push(['', 'RSS idle MiB', 'idle', 'rss', mib]);
  if (opts.settle > 0)
    rows.push(['', `settled RSS MiB (${opts.settle} s)`, 'idle', 'settledRss', mib]);
  rows.push(['', 'still open', 'idle', 'stillOpen', int]);
  if (opts.settle > 0) rows.push(['', `open after ${opts.settle} s`, 'idle', 'settledOpen', int]);
  rows.push([`cold start, ${opts.cold} req`, 'first answer ms', 'cold', 'firstMs', ms]);
  rows.push(['', 'all answered ms', 'cold', 'allMs', ms]);
  rows.push(['', 'failed', 'cold', 'failed', int]);
  rows.push(['', 'mint calls', 'cold', 'mints', formatMints]);
  return rows;
}

function formatMints(mints) {
  const entries = Object.entries(mints);
  return entries.length === 0 ? '0' : entries.map(([u, n]) => `${u}:${n}`).join(' ');
}

/** A figure as measured once, or its median (and range) over the rounds; a count's total. */
function cell(report, key, field, name, format) {
  const entry = report.results[key]?.[name];
  if (entry === undefined) return '';
  if (entry.error !== undefined) return 'error';
  const value = entry[field];
  if (value === undefined || value === null) return '—';
  const byRound = COUNTS.has(field) ? [] : figureByRound(report.rounds, key, name, field);
  return byRound.length > 1 ? medianAndRange(byRound, format) : format(value);
}

const factor = (v) => v.toFixed(2);

/** This proxy's figure over `ref`'s: the median of the ratios within each round, and their range. */
function ratioCell(report, key, field, ref) {
  const values = inRounds(report.rounds, key)
    ? ratioByRound(report.rounds, key, field, 'proxy', ref)
    : [ratio(report.results[key]?.proxy?.[field], report.results[key]?.[ref]?.[field])];
  const measured = values.filter((v) => v !== undefined);
  return measured.length === 0 ? '' : medianAndRange(measured, factor, '×');
}

function layout(head, body) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

const taking = (report) => report.contenders.filter((c) => c.available === true);
const rowsWithData = (report) =>
  rowsFor(report.options).filter(([, , key]) => report.results[key] !== undefined);

/** Plain-text table; columns are the contenders that took part. */
export function formatTable(report) {
  const contenders = taking(report);
  const body = rowsWithData(report).map(([scenario, figure, key, field, format]) => [
    scenario,
    figure,
    ...contenders.map((c) => cell(report, key, field, c.name, format)),
  ]);
  return layout(['scenario', 'figure', ...contenders.map((c) => c.label)], body);
}

/** This proxy's figure divided by each other contender's, for every measured figure. */
export function formatRatios(report) {
  const others = taking(report).filter((c) => c.name !== 'proxy');
  let scenario = '';
  let shown = '';
  const body = [];
  for (const [label, figure, key, field] of rowsWithData(report)) {
    if (label !== '') scenario = label;
    if (COUNTS.has(field)) continue;
    const cells = others.map((c) => ratioCell(report, key, field, c.name));
    if (cells.every((c) => c === '')) continue;
    body.push([scenario === shown ? '' : scenario, figure, ...cells]);
    shown = scenario;
  }
  return layout(['this proxy ÷', 'figure', ...others.map((c) => c.label)], body);
}

/** Where this proxy's start-up time went (median of the traced starts), per build/variant. */
export function formatBreakdown(report) {
  const traced = taking(report).filter((c) => report.results.start?.[c.name]?.breakdown);
  if (traced.length === 0) return undefined;
  const breakdowns = traced.map((c) => report.results.start[c.name].breakdown);
  const phases = [...new Set(breakdowns.flatMap((b) => Object.keys(b.phases)))];
  const row = (label, values) => [label, '', ...values.map((v) => `${v.toFixed(1)} ms`)];
  const body = [
    ...phases.map((p) =>
      row(
        p,
        breakdowns.map((b) => b.phases[p] ?? 0),
      ),
    ),
    row(
      'spawn to ready (traced)',
      breakdowns.map((b) => b.readyMs),
    ),
    row(
      'modules loaded after the first listen',
      breakdowns.map((b) => b.modulesAfterListen),
    ),
  ];
  const packages = traced.map((c, i) => {
    const list = Object.entries(breakdowns[i].packages)
      .filter(([, v]) => v >= 0.5)
      .sort((x, y) => y[1] - x[1])
      .map(([name, v]) => `${name} ${v.toFixed(1)}`);
    return `  ${c.label}: ${list.join(', ')}`;
  });
  return [
    `Start to ready, median of ${report.options.starts} traced starts`,
    layout(['phase', '', ...traced.map((c) => c.label)], body),
    'Module loading by package, ms (inclusive of what each package loads itself):',
    ...packages,
  ].join('\n');
}

/** Errors (of each round, when there were several) and skipped contenders, one line each. */
export function formatNotes(report) {
  const { rounds } = report;
  const notes = [];
  for (const c of report.contenders) {
    if (c.available !== true) notes.push(`${c.label}: skipped (${c.available})`);
  }
  for (const [key, byName] of Object.entries(report.results)) {
    for (const [name, entry] of Object.entries(byName)) {
      if (rounds.length > 1 && inRounds(rounds, key)) {
        rounds.forEach((round, i) => {
          const error = round[key]?.[name]?.error;
          if (error !== undefined) notes.push(`${key} / ${name}, round ${i + 1}: ${error}`);
        });
      } else if (entry.error !== undefined) notes.push(`${key} / ${name}: ${entry.error}`);
    }
  }
  return notes;
}

/** What the figures are when the side-by-side scenarios ran in rounds; undefined for one. */
export function formatRoundsNote(report) {
  const n = report.rounds.length;
  if (n < 2) return undefined;
  return (
    `Side by side in ${n} rounds, each contender first in turn: medians, lowest–highest in ` +
    'brackets, ratios taken within each round (start, idle and cold start run once).'
  );
}

const get = (results, key, name, field) => {
  const v = results[key]?.[name]?.[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/**
 * A figure this proxy should have but lacks: its side of a ratio whose reference was measured,
 * or a figure of a scenario it took part in (and failed, or measured as no number).
 */
const MISSING = Symbol('missing');

/** The workload each target is defined on; a run of another size is not judged on it. */
const TARGET_WORKLOAD = { idle: 1000, sizeMiB: 1024, cold: 10000 };

/** The mint's own round trip (connect, TLS, request to answer) in the traced starts. */
function mintRoundTrip(results) {
  const phases = results.start?.proxy?.breakdown?.phases;
  if (phases === undefined) return undefined;
  return (
    phases['mint: connect'] + phases['mint: TLS handshake'] + phases['mint: request to answer']
  );
}

/**
 * Each target: { target, measured, pass }, pass null when a figure is missing because it was
 * not measured, or the run's workload is not the one the target is defined on
 * (`TARGET_WORKLOAD`: `measured` then says what it needs); pass false when this proxy lacks a
 * figure it should have (see MISSING). A target on a scenario measured in rounds is judged
 * on the median of its values in each round (a ratio taken within the round) and says in
 * how many single rounds it was met: `met` of `perRound.length`, `perRound` null where a
 * round lacks the figure.
 */
export function checkTargets(
  results,
  rounds,
  {
    settle = 0,
    idle = TARGET_WORKLOAD.idle,
    sizeMiB = TARGET_WORKLOAD.sizeMiB,
    cold = TARGET_WORKLOAD.cold,
  } = {},
) {
  const out = [];
  /** The proxy's figure; MISSING when it took part in the scenario but has no number. */
  const r = (key, field) =>
    get(results, key, 'proxy', field) ?? (results[key]?.proxy === undefined ? undefined : MISSING);
  /** `value` judged by `ok` and shown as `text(value)`, unless undefined or MISSING. */
  const add = (target, value, ok, text) => {
    if (value === undefined) out.push({ target, measured: 'n/a', pass: null });
    else if (value === MISSING) out.push({ target, measured: 'missing', pass: false });
    else out.push({ target, measured: text(value), pass: ok(value) });
  };
  const needs = (option, wanted, ran) =>
    ran === wanted ? undefined : `not judged: needs --${option}=${wanted} (ran ${ran})`;
  const notJudged = (target, reason) => out.push({ target, measured: reason, pass: null });
  const byRound = (target, measure, ok, format, unit) => {
    const measures = rounds.map((round) => measure(round));
    const perRound = measures.map((v) => (v === undefined || v === MISSING ? null : v));
    const values = perRound.filter((v) => v !== null);
    const missing = measures.filter((v) => v === MISSING).length;
    const met = values.filter(ok).length;
    const ofRounds = (n) => (rounds.length > 1 ? ` in ${n} of ${rounds.length} rounds` : '');
    if (missing > 0) {
      out.push({ target, measured: `missing${ofRounds(missing)}`, pass: false, met, perRound });
      return;
    }
    if (values.length === 0) return add(target, undefined);
    const inRoundsText = rounds.length > 1 ? `, met${ofRounds(met)}` : '';
    const measured = `${medianAndRange(values, format, unit)}${inRoundsText}`;
    out.push({ target, measured, pass: ok(median(values)), met, perRound });
  };
  /** This proxy's figure over `ref`'s; MISSING when only `ref`'s was measured. */
  const proxyOver = (key, field, ref) => (round) => {
    const [value, reference] = [get(round, key, 'proxy', field), get(round, key, ref, field)];
    if (reference !== undefined && value === undefined) return MISSING;
    return ratio(value, reference);
  };
  const atMost = (target, measure, limit) =>
    byRound(target, measure, (v) => v <= limit, factor, '×');
  const atLeast = (target, measure, limit) =>
    byRound(target, measure, (v) => v >= limit, factor, '×');
  const mibText = (v) => `${mib(v)} MiB`;

  atMost('small GET @32: CPU per request ≤ 1.0× Go', proxyOver('small@32', 'cpuUs', 'go'), 1);
  for (const mode of ['download', 'upload']) {
    atMost(
      `${mode}: CPU per GiB ≤ 1.0× node:http 20 lines`,
      proxyOver(mode, 'cpuMsPerGiB', 'nodehttp'),
      1,
    );
  }
  atMost('small GET @32: p99 ≤ 2× nginx', proxyOver('small@32', 'p99', 'nginx'), 2);
  // Each judged twice: 1 s after the last activity, and after `settle` s at rest.
  const settled = settle > 0 ? [['settledRss', `settled, ${settle} s at rest`]] : [];
  for (const [field, when] of [['rss', '1 s after the first request'], ...settled]) {
    const idleRss = r('start', field);
    add(`idle RSS (one user, ops on) ≤ 50 MiB, ${when}`, idleRss, (v) => v <= 50, mibText);
  }
  const connSettled = settle > 0 ? [['settledRss', `${settle} s after they opened, at rest`]] : [];
  for (const [field, when] of [['rss', '1 s after they opened'], ...connSettled]) {
    const target = `1,000 idle keep-alive conns: RSS ≤ 80 MiB, ${when}`;
    const connRss = r('idle', field);
    const unlike = needs('idle', TARGET_WORKLOAD.idle, idle);
    if (unlike !== undefined && connRss !== undefined) {
      notJudged(target, unlike);
      continue;
    }
    const open = get(results, 'idle', 'proxy', field === 'rss' ? 'stillOpen' : 'settledOpen');
    add(
      target,
      connRss,
      (v) => v <= 80,
      (v) => `${mibText(v)}, ${open ?? '?'} open`,
    );
  }
  for (const mode of ['download', 'upload']) {
    const target = `${mode}: peak RSS ≤ 100 MiB`;
    const unlike = needs('size', TARGET_WORKLOAD.sizeMiB, sizeMiB);
    if (unlike !== undefined && inRounds(rounds, mode)) {
      notJudged(target, unlike);
      continue;
    }
    byRound(
      target,
      (round) =>
        get(round, mode, 'proxy', 'rss') ??
        (round[mode]?.proxy === undefined ? undefined : MISSING),
      (v) => v <= 100,
      mib,
      ' MiB',
    );
  }
  const ready = r('start', 'readyMs');
  const mint = mintRoundTrip(results);
  const beyondMint = typeof ready === 'number' && Number.isFinite(mint) ? ready - mint : undefined;
  add(
    'start to ready ≤ 150 ms + mint round trip',
    beyondMint ?? (ready === undefined ? undefined : MISSING),
    (v) => v <= 150,
    (v) => `${v.toFixed(0)} ms (${ready.toFixed(0)} − mint ${mint.toFixed(1)})`,
  );
  const mintTarget = 'cold start: exactly 1 mint per user';
  const coldUnlike = needs('cold', TARGET_WORKLOAD.cold, cold);
  if (coldUnlike !== undefined && results.cold?.proxy !== undefined) {
    notJudged(mintTarget, coldUnlike);
  } else {
    const tookPart = results.cold?.proxy === undefined ? undefined : MISSING;
    add(
      mintTarget,
      results.cold?.proxy?.mints ?? tookPart,
      (mints) => Object.values(mints).length > 0 && Object.values(mints).every((n) => n === 1),
      formatMints,
    );
  }

  atLeast('small GET @32: req/s ≥ 0.35× nginx', proxyOver('small@32', 'rps', 'nginx'), 0.35);
  atLeast('small GET @32: req/s ≥ 2.5× Express', proxyOver('small@32', 'rps', 'express'), 2.5);
  byRound(
    'small GET @1: added p50 < 0.3 ms',
    (round) => {
      const [p50, p50d] = [
        get(round, 'small@1', 'proxy', 'p50'),
        get(round, 'small@1', 'direct', 'p50'),
      ];
      if (p50d !== undefined && p50 === undefined) return MISSING;
      return p50 === undefined || p50d === undefined ? undefined : p50 - p50d;
    },
    (v) => v < 0.3,
    (v) => v.toFixed(3),
    ' ms',
  );
  for (const mode of ['download', 'upload']) {
    atLeast(`${mode}: MiB/s ≥ 0.8× nginx`, proxyOver(mode, 'mibps', 'nginx'), 0.8);
  }
  return out;
}

export function formatTargets(targets) {
  const mark = (pass) => (pass === null ? ' -- ' : pass ? 'PASS' : 'FAIL');
  const width = Math.max(...targets.map((t) => t.target.length));
  return targets.map((t) => `${mark(t.pass)}  ${t.target.padEnd(width)}  ${t.measured}`).join('\n');
}
