/**
 * The shape of a value a message would quote, where a password could be in its place (a
 * Secret's key mapped to the wrong variable, keys swapped in a file): what tells a URL or an
 * address from what may be the secret itself, which is not shown.
 */
import { REDACTED, shownValue } from '../visible-text';

/**
 * A URL as typed, split where a password could hide: a leading scheme and `//`, even misspelt
 * (`http//`, `//`), then everything up to the LAST `@` as userinfo. A password may itself hold
 * `@`, `/` or `:`, and a value too broken to parse has no authority whose end could be
 * trusted, so anything before an `@` counts as a secret.
 */
export function splitUserinfo(value: string): { prefix: string; userinfo: boolean; rest: string } {
  const prefix = /^(?:[a-z][a-z0-9+.-]*:?)?\/\//i.exec(value)?.[0] ?? '';
  const at = value.lastIndexOf('@');
  return at < prefix.length
    ? { prefix, userinfo: false, rest: value.slice(prefix.length) }
    : { prefix, userinfo: true, rest: value.slice(at + 1) };
}

/**
 * One word of letters, digits and hyphens: a host name alone, and the shape of most generated
 * passwords too (hex, letters and digits), so nothing tells the two apart.
 */
export const SINGLE_WORD = /^[a-z0-9-]+$/i;

/** The value without its scheme or `//`, nor anything up to an `@`, is a single word. */
export const singleWord = (value: string): boolean => {
  const { prefix, rest } = splitUserinfo(value);
  return prefix === '' && SINGLE_WORD.test(rest);
};

/** Why a message does not quote a single word. */
export const SINGLE_WORD_NOT_SHOWN =
  'a single word is not shown, since a password in its place would look the same';

/** Why a message does not quote a value that has the shape of what it should be in no way. */
export const SHAPELESS_NOT_SHOWN =
  'it does not look like one either (is it the secret itself? it is not shown)';

/** The URL as it may be shown: even a URL too broken to parse may carry a password. */
export function shownUrl(value: string): string {
  const { prefix, userinfo, rest } = splitUserinfo(value);
  return shownValue(`${prefix}${userinfo ? `${REDACTED}@` : ''}${rest}`);
}
