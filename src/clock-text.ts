/**
 * Instants as text, written from `Date`'s UTC fields. On Node.js 20 every `Date` V8 turns into
 * text — `toISOString` and `toUTCString` too, which print no zone — first looks up the local
 * time zone's name in ICU's data: the first such call maps about 1 MiB of the `node` binary
 * into the process (ICU's zone names and the code that reads them), kept for its lifetime.
 * The proxy writes a time on every log line, every mint and every answer of its own, so a
 * pod paid that at once. Years outside 0–9999 (never a clock's) are left to `Date`, whose
 * extended form they need; an invalid time throws as `toISOString` does.
 */

const DAYS = 'Sun Mon Tue Wed Thu Fri Sat'.split(' ');
const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));
const three = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));
const four = (n: number): string => String(n).padStart(4, '0');

/** `hh:mm:ss` of `d`, in UTC. */
const clock = (d: Date): string =>
  `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;

/** Whether `d` is valid and its year fits four digits. */
const plainYear = (d: Date): boolean => {
  const year = d.getUTCFullYear();
  return year >= 0 && year <= 9999;
};

/** What `new Date(ms).toISOString()` says: `2026-12-02T18:09:41.123Z`. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  if (!plainYear(d)) return d.toISOString();
  const date = `${four(d.getUTCFullYear())}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
  return `${date}T${clock(d)}.${three(d.getUTCMilliseconds())}Z`;
}

/** What `new Date(ms).toUTCString()` says, HTTP's `Date`: `Wed, 02 Dec 2026 18:09:41 GMT`. */
export function httpDate(ms: number): string {
  const d = new Date(ms);
  if (!plainYear(d)) return d.toUTCString();
  const date = `${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${four(d.getUTCFullYear())}`;
  return `${DAYS[d.getUTCDay()]}, ${date} ${clock(d)} GMT`;
}
