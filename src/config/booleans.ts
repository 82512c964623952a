/**
 * Booleans as each source writes them. A variable or an annotation (which Kubernetes holds as
 * text, so a manifest quotes it) is text: it takes the words operators use for on and off, in
 * any case, with spaces around them. YAML has booleans of its own, so text there — a quoted
 * "true" — is refused with what to write instead.
 */

const TRUE_WORDS: readonly string[] = ['true', '1', 'yes'];
const FALSE_WORDS: readonly string[] = ['false', '0', 'no'];

/** The words `booleanOfText` takes, as a message lists them. */
export const BOOLEAN_WORDS = 'true, false, 1, 0, yes or no (in any case)';

/**
 * `text` as a boolean, or undefined when it is none of `BOOLEAN_WORDS`. Space around it is
 * its readers' to trim, as for every value (`variableValue`, an annotation's `get`).
 */
export function booleanOfText(text: string): boolean | undefined {
  const word = text.toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

/** What YAML reads as a boolean when written without quotes (its core schema). */
const YAML_BOOLEAN = /^(true|True|TRUE|false|False|FALSE)$/;

/**
 * Why a YAML value is no boolean. Only a word YAML would read as one is said to need its
 * quotes removed: `yes` and `1` stay text or a number without them.
 */
export function yamlBooleanProblem(input: unknown): string {
  const quoted = typeof input === 'string' && YAML_BOOLEAN.test(input.trim());
  return quoted ? 'must be true or false (without quotes)' : 'must be true or false';
}
