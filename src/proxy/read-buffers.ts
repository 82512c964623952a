/**
 * Socket-read buffers given back sooner. Node.js reads each socket into a buffer of its own
 * (64 KiB at a time in a large transfer), outside V8's heap, and V8 frees one only when a
 * collection finds it dead. Passing a body on makes so few JS objects per chunk (about 3 KB
 * per 64 KiB) that the young generation hardly fills: Node.js 20 collects it once 32 MiB of
 * such buffers wait, Node.js 24 leaves them to full collections, and a 1 GiB transfer
 * peaked about 30 MiB (Node.js 20) and 70 MiB (Node.js 24) higher than with a young
 * collection after every 8 MiB read. With next to nothing alive in the young generation
 * during a transfer each of those takes a fraction of a millisecond, and they replace the
 * collections V8 would have run for the buffers: no more CPU per GiB.
 */

/** Body bytes read between two young collections. */
export const READ_BYTES_PER_COLLECTION = 8 * 1024 * 1024;

export class ReadBuffers {
  /** Read since the last collection, which freed what was read before it and died. */
  private unswept = 0;

  /** @param collectYoung Runs a young-generation collection; nothing when left out. */
  constructor(
    private readonly collectYoung: () => void = () => undefined,
    private readonly every = READ_BYTES_PER_COLLECTION,
  ) {}

  /** `bytes` of a body were read from a socket. */
  read(bytes: number): void {
    this.unswept += bytes;
    if (this.unswept < this.every) return;
    this.unswept = 0;
    this.collectYoung();
  }
}
