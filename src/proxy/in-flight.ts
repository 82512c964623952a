/**
 * What a listener has in flight, to be reached all at once (to cut every answer at shutdown):
 * a list linked through one node per item, which `add` returns and `delete` takes.
 *
 * Not a Set: a Set added to and deleted from at every request replaces its table every few
 * dozen changes, and V8 links each table it leaves to its successor (for iterators still
 * reading it), entries and all. Once one such table had reached the old generation, each
 * young collection kept every later table alive, and the requests their entries held: at 32
 * connections every request's objects were promoted (2.2 MB per young collection against
 * 0.15), young collections took about three times as long — the tail latency — and a full
 * collection ran about every second. A node let go here keeps nothing.
 */

export interface InFlightNode<T> {
  value: T | undefined;
  prev: InFlightNode<T> | undefined;
  next: InFlightNode<T> | undefined;
}

export class InFlight<T> {
  private head: InFlightNode<T> | undefined;

  add(value: T): InFlightNode<T> {
    const node: InFlightNode<T> = { value, prev: undefined, next: this.head };
    if (this.head !== undefined) this.head.prev = node;
    this.head = node;
    return node;
  }

  /** Takes `node` out, once: a node already taken out is left alone. */
  delete(node: InFlightNode<T>): void {
    if (node.value === undefined) return;
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next !== undefined) node.next.prev = node.prev;
    node.value = node.prev = node.next = undefined;
  }

  /** A copy, so that what is done to each may take it out meanwhile. */
  values(): T[] {
    const all: T[] = [];
    for (let node = this.head; node !== undefined; node = node.next) all.push(node.value as T);
    return all;
  }
}
