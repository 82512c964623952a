/**
 * The README's annotation table, generated from `ANNOTATIONS` so it cannot drift from what
 * the webhook reads: `npm run docs:config` rewrites it, and a test fails while it is stale.
 */
import { table } from '../config/reference';
import { ANNOTATIONS } from './annotations';

function annotationTable(): string {
  return table(
    ['annotation', 'value', 'default', 'meaning'],
    Object.values(ANNOTATIONS).map((a) => [`\`${a.name}\``, a.value, a.default, a.meaning]),
  );
}

const BEGIN = '<!-- inject:annotations -->';
const END = '<!-- /inject:annotations -->';

/** `text` with the table between the markers regenerated. */
export function withAnnotationTable(text: string): string {
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`the markers ${BEGIN} … ${END} are missing`);
  return `${text.slice(0, from + BEGIN.length)}\n${annotationTable()}\n${text.slice(to)}`;
}
