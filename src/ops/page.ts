/**
 * The human-readable `/` page: what an operator looks for first, from the same report as
 * `/status`. Plain server-rendered HTML, every value escaped, no script and no request to
 * anything else; its only style sheet is allowed by its hash in the Content-Security-Policy.
 */
import { createHash } from 'node:crypto';
import type { StatusJson, UserStatusJson } from './status';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** "in 1 m 05 s" / "3 s ago" / "just now": how far `targetMs` is from `now`. */
function relativeTime(targetMs: number, now: number): string {
  const seconds = Math.round((targetMs - now) / 1000);
  if (seconds === 0) return 'just now';
  const span = humanSpan(Math.abs(seconds));
  return seconds >= 0 ? `in ${span}` : `${span} ago`;
}

function humanSpan(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${String(seconds % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} m`;
  return `${Math.floor(hours / 24)} d ${String(hours % 24).padStart(2, '0')} h`;
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;color:#1b1b1b;background:#f6f7f8;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .5rem}h1 .version{font-weight:normal;color:#555}
h2{font-size:1.15rem;margin:0 0 .6rem;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
.verdict{display:inline-block;padding:.3rem .7rem;border-radius:.3rem;font-weight:600;margin:0 0 .8rem}
.verdict.ok{background:#dff3e4;color:#0b5d1e}.verdict.bad{background:#fde2e1;color:#8a1c13}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25rem 1rem;margin:0}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
.users{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,26rem),1fr));gap:1rem;margin:1.2rem 0}
.user{background:#fff;border:1px solid #d5d8dc;border-left:.4rem solid #9aa0a6;border-radius:.4rem;padding:1rem;min-width:0}
.user.valid{border-left-color:#1e8e3e}.user.failing{border-left-color:#e37400}
.user.pending,.user.invalidated,.user.expired{border-left-color:#c5221f}
.state{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;padding:.1rem .45rem;border-radius:.25rem;background:#eceff1}
.valid .state{background:#dff3e4;color:#0b5d1e}.failing .state{background:#fef0d9;color:#7a4100}
.pending .state,.invalidated .state,.expired .state{background:#fde2e1;color:#8a1c13}
.problem{margin-top:.8rem;padding:.7rem .8rem;border-radius:.3rem;background:#fff4f2;border:1px solid #f4c7c3}
.problem p{margin:.2rem 0;overflow-wrap:anywhere}
code{font-family:ui-monospace,monospace;font-size:.9em}
footer{color:#555;font-size:.9rem}footer a{color:#1a56b0}
`;

/**
 * The page's Content-Security-Policy: nothing may load, run or be framed; the one style
 * sheet is allowed by its hash, not by `'unsafe-inline'`.
 */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function when(iso: string | null, now: number): string {
  if (iso === null) return '—';
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(relativeTime(Date.parse(iso), now))}</time>`;
}

/** A moment as a clock shows it, UTC to the second: where a span beside it already says how long ago, or the page's own time. */
function at(iso: string): string {
  const shown = `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(shown)}</time>`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function tokenLine(user: UserStatusJson, now: number): string {
  if (user.expiresAt === null) return user.state === 'pending' ? 'none yet' : 'none usable';
  const expires = Date.parse(user.expiresAt) > now ? 'expires' : 'expired';
  const minted = user.lastRefreshAt === null ? '' : ` · minted ${when(user.lastRefreshAt, now)}`;
  return `${expires} ${when(user.expiresAt, now)}${minted}`;
}

function problem(user: UserStatusJson, now: number): string {
  const error = user.lastError;
  const next =
    user.nextAttemptAt === null
      ? 'next attempt on the next request'
      : `next attempt ${when(user.nextAttemptAt, now)}`;
  if (error !== null && user.failures > 0) {
    return alert(
      error.reason,
      error.message,
      error.hint,
      `${escapeHtml(plural(user.failures, 'failed attempt'))}, the last ${when(error.at, now)}; ${next}`,
    );
  }
  // Its mints succeed, yet no token is held: the card must say so and when the next comes.
  if (user.state === 'invalidated') {
    return alert(
      'token_invalidated',
      'Vidispine stopped taking its token before its expiry (confirmed with GET /API/whoami); no new one is held yet',
      'see the token_invalidated lines of the log: a token Vidispine rejects before accepting it even once is replaced at once, then 1 s, 2 s, 4 s … up to 30 s after the last mint',
      next,
    );
  }
  return '';
}

/** The box of a user without a token: `last` is markup already. */
function alert(reason: string, message: string, hint: string, last: string): string {
  return `
<div class="problem" role="alert">
<p class="reason"><strong>${escapeHtml(reason)}</strong>: ${escapeHtml(message)}</p>
<p class="hint">What to do: ${escapeHtml(hint)}</p>
<p class="next">${last}</p>
</div>`;
}

function userCard(user: UserStatusJson, now: number): string {
  const { requests } = user;
  return `
<section class="user ${escapeHtml(user.state)}" id="user-${escapeHtml(user.user)}" data-user="${escapeHtml(user.user)}" data-state="${escapeHtml(user.state)}">
<h2><span class="name">${escapeHtml(user.user)}</span> <span class="state">${escapeHtml(user.state)}</span></h2>
<dl>
<dt>Listens on</dt><dd class="listen">${user.listen === null ? 'no listener of its own' : `<code>${escapeHtml(user.listen)}</code>`}</dd>
<dt>Token from</dt><dd class="mint"><code>${escapeHtml(user.mint.request)}</code> with ${escapeHtml(user.mint.credential)}, set in ${escapeHtml(user.mint.secretSource)}</dd>
<dt>Lifetime</dt><dd class="renewal">${escapeHtml(user.renewal)}</dd>
<dt>Token</dt><dd class="token">${tokenLine(user, now)}</dd>
<dt>Last ${requests.minutes} min</dt><dd class="requests">${escapeHtml(plural(requests.requests, 'request'))} served, ${escapeHtml(plural(requests.errors, 'error'))}</dd>
</dl>${problem(user, now)}
</section>`;
}

function verdict(report: StatusJson): { ok: boolean; text: string } {
  if (report.shuttingDown) return { ok: false, text: 'Shutting down: readiness fails' };
  if (report.ready) return { ok: true, text: 'Ready: every user holds a valid token' };
  const without = report.users.filter((u) => !u.ready).map((u) => u.user);
  return { ok: false, text: `Not ready: no valid token for ${without.join(', ')}` };
}

export function renderStatusPage(report: StatusJson): string {
  const now = Date.parse(report.time);
  const { ok, text } = verdict(report);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${ok ? 'ready' : 'NOT READY'} · vidispine-auth-proxy</title>
<style>${STYLE}</style>
</head><body>
<header>
<h1>vidispine-auth-proxy <span class="version">${escapeHtml(report.version)}</span></h1>
<p id="verdict" class="verdict ${ok ? 'ok' : 'bad'}">${escapeHtml(text)}</p>
<dl id="process">
<dt>Vidispine</dt><dd class="vidispine"><code>${escapeHtml(report.vidispine)}</code></dd>
<dt>Up</dt><dd class="uptime">${escapeHtml(humanSpan(report.uptimeSeconds))}, since ${at(report.startedAt)}</dd>
<dt>As of</dt><dd class="time">${at(report.time)} (refreshes every 10 s)</dd>
</dl>
</header>
<main class="users">${report.users.map((u) => userCard(u, now)).join('')}
</main>
<footer><a href="status">/status</a> · <a href="readyz">/readyz</a> · <a href="startupz">/startupz</a> · <a href="livez">/livez</a> · <a href="metrics">/metrics</a></footer>
</body></html>
`;
}
