/**
 * What a thrown value says: its message, or the value itself as text (anything may be thrown).
 * The message is read by shape, as `errorCode` reads a code: errors of Node's core come from
 * another realm than the code that catches them under a test runner's sandbox, where
 * `instanceof Error` fails. Node's connect to every address of a name fails as one
 * AggregateError without a message of its own: then its errors' messages.
 */
export function messageOf(err: unknown): string {
  if (!hasMessage(err)) return String(err);
  const { message } = err;
  if (message === '' && 'errors' in err && Array.isArray(err.errors)) {
    return err.errors.map(messageOf).join('; ');
  }
  return message;
}

const hasMessage = (err: unknown): err is { readonly message: string } =>
  typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string';

/** The `code` of a Node.js or OpenSSL error, when it has one (read by shape, as above). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err;
  return typeof code === 'string' ? code : undefined;
}
