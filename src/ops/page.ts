/** The human-readable `/` page: plain server-rendered HTML, every value escaped. */
import type { ProbeResult } from './health';
import type { UserStatusJson } from './status';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** "in 1 m 05 s" / "3 s ago": how far `targetMs` is from `now`. */
export function relativeTime(targetMs: number, now: number): string {
  const seconds = Math.round((targetMs - now) / 1000);
  const span = humanSpan(Math.abs(seconds));
  return seconds >= 0 ? `in ${span}` : `${span} ago`;
}

function humanSpan(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} m`;
}

function when(iso: string | null, now: number): string {
  if (iso === null) return '—';
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(relativeTime(Date.parse(iso), now))}</time>`;
}

function userRow(user: UserStatusJson, now: number): string {
  const error =
    user.lastError === null
      ? '—'
      : `${escapeHtml(user.lastError.reason)}: ${escapeHtml(user.lastError.message)} (${when(user.lastError.at, now)})`;
  return `<tr class="${escapeHtml(user.state)}"><td>${escapeHtml(user.user)}</td><td>${escapeHtml(user.mode)}</td><td>${escapeHtml(user.state)}</td><td>${when(user.expiresAt, now)}</td><td>${when(user.lastRefreshAt, now)}</td><td>${user.failures}</td><td>${error}</td></tr>`;
}

export interface PageInput {
  readonly users: readonly UserStatusJson[];
  readonly ready: ProbeResult;
  readonly version: string;
  readonly now: number;
}

export function renderStatusPage({ users, ready, version, now }: PageInput): string {
  const verdict = ready.ok
    ? 'ready'
    : ready.shuttingDown
      ? 'shutting down'
      : `not ready (${ready.users.map((u) => `${u.user}: ${u.reason}`).join(', ')})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>vidispine-auth-proxy</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}tr.valid td:nth-child(3){color:#070}tr.failing td:nth-child(3){color:#a60}tr.expired td:nth-child(3),tr.pending td:nth-child(3){color:#b00}</style>
</head><body>
<h1>vidispine-auth-proxy ${escapeHtml(version)}</h1>
<p>Status: <strong>${escapeHtml(verdict)}</strong> — as of ${escapeHtml(new Date(now).toISOString())}</p>
<table><thead><tr><th>user</th><th>mode</th><th>state</th><th>token expires</th><th>last refresh</th><th>failures</th><th>last error</th></tr></thead>
<tbody>${users.map((u) => userRow(u, now)).join('')}</tbody></table>
<p><a href="status">/status</a> · <a href="readyz">/readyz</a> · <a href="startupz">/startupz</a> · <a href="livez">/livez</a> · <a href="metrics">/metrics</a></p>
</body></html>
`;
}
