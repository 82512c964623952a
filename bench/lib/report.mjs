// Turns raw results into the printed table (every figure with its ratio to direct and to
// nginx) and checks the proxy against its targets.

const int = (v) => Math.round(v).toLocaleString('en-US');
const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3));
const mib = (v) => v.toFixed(1);

/** One table row per figure: [scenario label, figure label, result key, field, format]. */
export function rowsFor(opts) {
  const rows = [];
  for (const c of opts.connections) {
    const key = `small@${c}`;
    const label = `small GET, ${c} conn`;
    rows.push([label, 'req/s', key, 'rps', int]);
    rows.push(['', 'p50 ms', key, 'p50', ms]);
    rows.push(['', 'p99 ms', key, 'p99', ms]);
    rows.push(['', 'errors', key, 'errors', int]);
  }
  for (const mode of ['download', 'upload']) {
    rows.push([`${opts.sizeMiB} MiB ${mode}`, 'MiB/s', mode, 'mibps', int]);
    rows.push(['', 'peak RSS MiB', mode, 'rss', mib]);
  }
  rows.push([`${opts.idle} idle conns`, 'RSS at start MiB', 'idle', 'rssStart', mib]);
  rows.push(['', 'RSS idle MiB', 'idle', 'rss', mib]);
  rows.push(['', 'still open', 'idle', 'stillOpen', int]);
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

function ratio(value, ref) {
  if (typeof value !== 'number' || typeof ref !== 'number' || ref === 0) return undefined;
  if (!Number.isFinite(value) || !Number.isFinite(ref)) return undefined;
  return value / ref;
}

function cell(results, key, field, name, format) {
  const entry = results[key]?.[name];
  if (entry === undefined) return '';
  if (entry.error !== undefined) return 'error';
  const value = entry[field];
  if (value === undefined || value === null) return '—';
  let text = format(value);
  if (typeof value !== 'number' || field === 'errors' || field === 'failed') return text;
  if (field === 'stillOpen') return text;
  const d = name === 'direct' ? undefined : ratio(value, results[key]?.direct?.[field]);
  const n = name === 'nginx' ? undefined : ratio(value, results[key]?.nginx?.[field]);
  if (d !== undefined) text += ` ${d.toFixed(2)}d`;
  if (n !== undefined) text += ` ${n.toFixed(2)}n`;
  return text;
}

/** Plain-text table; columns are the contenders that took part. */
export function formatTable(report) {
  const names = report.contenders.filter((c) => c.available === true).map((c) => c.name);
  const head = [
    'scenario',
    'figure',
    ...report.contenders.filter((c) => c.available === true).map((c) => c.label),
  ];
  const body = rowsFor(report.options)
    .filter(([, , key]) => report.results[key] !== undefined)
    .map(([scenario, figure, key, field, format]) => [
      scenario,
      figure,
      ...names.map((name) => cell(report.results, key, field, name, format)),
    ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Errors and skipped contenders, one line each. */
export function formatNotes(report) {
  const notes = [];
  for (const c of report.contenders) {
    if (c.available !== true) notes.push(`${c.label}: skipped (${c.available})`);
  }
  for (const [key, byName] of Object.entries(report.results)) {
    for (const [name, entry] of Object.entries(byName)) {
      if (entry.error !== undefined) notes.push(`${key} / ${name}: ${entry.error}`);
    }
  }
  return notes;
}

const get = (results, key, name, field) => {
  const v = results[key]?.[name]?.[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/** Each target: { target, measured, pass } with pass null when a figure is missing. */
export function checkTargets(results) {
  const r = (key, name, field) => get(results, key, name, field);
  const out = [];
  const add = (target, measured, pass) =>
    out.push({ target, measured: measured ?? 'n/a', pass: measured === undefined ? null : pass });

  const rps32 = r('small@32', 'proxy', 'rps');
  const nginx32 = r('small@32', 'nginx', 'rps');
  const express32 = r('small@32', 'express', 'rps');
  const ratioText = (a, b) =>
    a === undefined || b === undefined ? undefined : `${(a / b).toFixed(2)}×`;
  add('small GET @32: req/s ≥ 0.35× nginx', ratioText(rps32, nginx32), rps32 / nginx32 >= 0.35);
  add('small GET @32: req/s ≥ 2.5× Express', ratioText(rps32, express32), rps32 / express32 >= 2.5);
  const p99 = r('small@32', 'proxy', 'p99');
  const p99n = r('small@32', 'nginx', 'p99');
  add('small GET @32: p99 ≤ 2× nginx', ratioText(p99, p99n), p99 / p99n <= 2);
  const p50 = r('small@1', 'proxy', 'p50');
  const p50d = r('small@1', 'direct', 'p50');
  const added = p50 === undefined || p50d === undefined ? undefined : p50 - p50d;
  add(
    'small GET @1: added p50 < 0.3 ms',
    added === undefined ? undefined : `${added.toFixed(3)} ms`,
    added < 0.3,
  );
  for (const mode of ['download', 'upload']) {
    const v = r(mode, 'proxy', 'mibps');
    add(
      `${mode}: MiB/s ≥ 0.8× nginx`,
      ratioText(v, r(mode, 'nginx', 'mibps')),
      v / r(mode, 'nginx', 'mibps') >= 0.8,
    );
    const rss = r(mode, 'proxy', 'rss');
    add(
      `${mode}: peak RSS ≤ 150 MiB`,
      rss === undefined ? undefined : `${mib(rss)} MiB`,
      rss <= 150,
    );
  }
  const idleRss = r('idle', 'proxy', 'rss');
  add(
    'idle conns: RSS < 150 MiB',
    idleRss === undefined ? undefined : `${mib(idleRss)} MiB`,
    idleRss < 150,
  );
  const mints = results.cold?.proxy?.mints;
  const counts = mints === undefined ? [] : Object.values(mints);
  add(
    'cold start: exactly 1 mint per user',
    mints === undefined ? undefined : formatMints(mints),
    counts.length > 0 && counts.every((n) => n === 1),
  );
  return out;
}

export function formatTargets(targets) {
  const mark = (pass) => (pass === null ? ' -- ' : pass ? 'PASS' : 'FAIL');
  const width = Math.max(...targets.map((t) => t.target.length));
  return targets.map((t) => `${mark(t.pass)}  ${t.target.padEnd(width)}  ${t.measured}`).join('\n');
}
