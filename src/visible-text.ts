/**
 * Text that came from elsewhere — a configuration value, a key path, a server's answer — as
 * a message or a table shows it: never a character a terminal would act on or hide, never
 * more than a screenful. A 100 KB value or a path 800 levels deep makes a message of a line.
 */

/**
 * What a terminal acts on or hides rather than shows: controls (C0, DEL, C1 — escape
 * sequences, line breaks), format characters (bidi overrides, zero-width), line and
 * paragraph separators, lone surrogates. The zero-width joiner and non-joiner stay: emoji
 * sequences and Indic scripts spell names with them.
 */
const UNSHOWN = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** The code points of `text`, each one a terminal would act on or hide as `?`. */
const visiblePoints = (text: string): string[] => [...text.replace(UNSHOWN, '?')];

/** `text` as it may be shown: at most `limit` characters (`…` marks the cut). */
export function visibleText(text: string, limit: number): string {
  const points = visiblePoints(text);
  return points.length > limit ? `${points.slice(0, limit).join('')}…` : points.join('');
}

/** How much of a value a message quotes: a URL, a path or a name in full, a paste not. */
const VALUE_LIMIT = 200;

/** A value as a message quotes it: its first 200 characters, then `…`. */
export const shownValue = (value: string): string => visibleText(value, VALUE_LIMIT);

/** What stands in a message, a log line or a header where a secret was. */
export const REDACTED = '[REDACTED]';

/** `text` with every occurrence of `secret` (never empty) replaced by `REDACTED`. */
export function blankedOut(text: string, secret: string): string {
  return text.includes(secret) ? text.split(secret).join(REDACTED) : text;
}

/** How long a key path a message shows, the `…` included. */
const KEY_PATH_LIMIT = 140;

/**
 * A key path as a message shows it: a longer one than `KEY_PATH_LIMIT` is cut in the middle,
 * so both the block it starts in and the key it ends at show.
 */
export function shownKeyPath(path: string): string {
  const points = visiblePoints(path);
  if (points.length <= KEY_PATH_LIMIT) return points.join('');
  const tail = Math.floor((KEY_PATH_LIMIT - 1) / 2);
  const head = KEY_PATH_LIMIT - 1 - tail;
  return `${points.slice(0, head).join('')}…${points.slice(-tail).join('')}`;
}
