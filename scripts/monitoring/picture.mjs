// Draws the key Grafana panels as one SVG from the monitoring check's query results, so the
// README shows what the dashboard looks like on real data. Self-contained: no fonts, scripts
// or images are loaded by the picture.
import { legendFor } from './queries.mjs';

/** The panels drawn, by their dashboard titles, with the unit of their values. */
const KEY_PANELS = [
  ['Time to token expiry', 's'],
  ['Token valid', ''],
  ['Token refreshes by result', '/s'],
  ['Request rate by user', '/s'],
  ['Request errors by user', '/s'],
  ['401 answers and replays', '/s'],
];
const COLORS = ['#1f77b4', '#e4572e', '#2ca02c', '#9467bd', '#ff9f1c', '#17becf', '#8c564b'];

const WIDTH = 1000;
const PANEL_W = 480;
const PANEL_H = 250;
const GAP = 13;
const HEADER = 78;
const PLOT = { left: 52, right: 14, top: 30, bottom: 62 };

const esc = (s) =>
  String(s).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
const fmt = (v) => {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return `${(v / 1000).toFixed(a >= 10_000 ? 0 : 1)}k`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(2);
};

/** About four round steps covering [lo, hi]. */
function ticks(lo, hi) {
  const span = hi - lo || 1;
  const raw = span / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

/** Series of one panel: every target's result, named by its legend; all-zero series left out. */
function panelSeries(panel) {
  return panel.targets
    .flatMap((t) =>
      t.result.map((s) => ({
        name: legendFor(t.legend, s.metric),
        points: s.values.map(([ts, v]) => [Number(ts), Number(v)]),
      })),
    )
    .filter((s) => s.points.some(([, v]) => Number.isFinite(v) && v !== 0))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function drawPanel(panel, unit, x0, y0, { start, end, phases }) {
  const series = panelSeries(panel);
  const w = PANEL_W - PLOT.left - PLOT.right;
  const h = PANEL_H - PLOT.top - PLOT.bottom;
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  let lo = Math.min(0, ...values);
  let hi = Math.max(...values, unit === '' ? 1 : 0);
  if (hi === lo) hi = lo + 1;
  const yTicks = ticks(lo, hi);
  lo = Math.min(lo, yTicks[0]);
  hi = Math.max(hi, yTicks[yTicks.length - 1]);
  const X = (t) => x0 + PLOT.left + ((t - start) / (end - start)) * w;
  const Y = (v) => y0 + PLOT.top + h - ((v - lo) / (hi - lo)) * h;
  const out = [
    `<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${PANEL_H}" rx="4" fill="#fff" stroke="#d0d4d9"/>`,
    `<text x="${x0 + 10}" y="${y0 + 19}" class="title">${esc(panel.title)}${unit ? ` <tspan class="unit">(${esc(unit)})</tspan>` : ''}</text>`,
  ];
  // What happened to the proxy, behind the data.
  const o = phases.outage;
  out.push(
    `<rect x="${X(start + o.from)}" y="${Y(hi)}" width="${X(start + o.to) - X(start + o.from)}" height="${h}" class="outage"/>`,
  );
  for (const r of phases.revocations) {
    out.push(
      `<line x1="${X(start + r)}" x2="${X(start + r)}" y1="${Y(hi)}" y2="${Y(lo)}" class="revoke"/>`,
    );
  }
  for (const v of yTicks) {
    out.push(
      `<line x1="${X(start)}" x2="${X(end)}" y1="${Y(v)}" y2="${Y(v)}" class="grid"/>`,
      `<text x="${X(start) - 6}" y="${Y(v) + 4}" class="axis" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  for (let s = 0; s <= end - start; s += 20) {
    out.push(
      `<text x="${X(start + s)}" y="${Y(lo) + 14}" class="axis" text-anchor="middle">${s} s</text>`,
    );
  }
  // Three legend entries a row, or two when the names are long.
  const perRow = series.some((s) => s.name.length > 18) ? 2 : 3;
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    // A missing or NaN point breaks the line, as in Grafana.
    let d = '';
    let pen = 'M';
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) {
        pen = 'M';
        continue;
      }
      d += `${pen}${X(t).toFixed(1)},${Y(v).toFixed(1)}`;
      pen = 'L';
    }
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"/>`);
    const lx = x0 + PLOT.left + (i % perRow) * (perRow === 3 ? 142 : 210);
    const ly = y0 + PANEL_H - 30 + Math.floor(i / perRow) * 14;
    if (i < 2 * perRow) {
      out.push(
        `<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${color}"/>`,
        `<text x="${lx + 14}" y="${ly - 3}" class="legend">${esc(s.name.slice(0, 34))}</text>`,
      );
    }
  });
  if (series.length === 0) {
    out.push(
      `<text x="${x0 + PANEL_W / 2}" y="${y0 + PANEL_H / 2}" class="axis" text-anchor="middle">no data</text>`,
    );
  }
  return out.join('\n');
}

/** The SVG for a monitoring-check result ({ start, end, phases, panels }). */
export function renderPicture({ start, end, phases, panels }) {
  const rows = Math.ceil(KEY_PANELS.length / 2);
  const height = HEADER + rows * (PANEL_H + GAP) + 8;
  const parts = KEY_PANELS.map(([title, unit], i) => {
    const panel = panels.find((p) => p.title === title);
    if (!panel)
      throw new Error(`the dashboard has no panel "${title}" any more: update KEY_PANELS`);
    const x = GAP + (i % 2) * (PANEL_W + GAP);
    const y = HEADER + Math.floor(i / 2) * (PANEL_H + GAP);
    return drawPanel(panel, unit, x, y, { start, end, phases });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
.title { font-size: 13px; font-weight: bold; fill: #222; }
.unit { font-weight: normal; fill: #666; }
.axis { font-size: 10px; fill: #666; }
.legend { font-size: 10.5px; fill: #333; }
.grid { stroke: #eceff2; }
.outage { fill: #e4572e; fill-opacity: 0.09; }
.revoke { stroke: #9467bd; stroke-dasharray: 3 3; }
.head { font-size: 16px; font-weight: bold; fill: #222; }
.note { font-size: 11.5px; fill: #444; }
</style>
<rect width="100%" height="100%" fill="#f6f7f9"/>
<text x="${GAP}" y="24" class="head">vidispine-auth-proxy dashboard: key panels from a real Prometheus run</text>
<text x="${GAP}" y="44" class="note">Two users (alice: own password, 10 s tokens; bob: admin-minted, 20 s tokens) under steady traffic, scraped every second.</text>
<text x="${GAP}" y="60" class="note"><tspan fill="#9467bd">┆ Vidispine forgets every token</tspan> (answered by a replay after the 401)   <tspan fill="#e4572e">▇ token endpoint down ${phases.outage.to - phases.outage.from} s</tspan>: tokens expire, clients get 503, then recovery.</text>
${parts.join('\n')}
</svg>
`;
}
