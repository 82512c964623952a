/** What a thrown value says: its message, or the value itself as text (anything may be thrown). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
