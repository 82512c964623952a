export interface Item {
  readonly id: string;
  metadata: Record<string, string>;
  /** Bumped on every change; the ETag is derived from it. */
  revision: number;
}

/** The simulated item database, seeded with one item so reads work from the start. */
export class ItemStore {
  private readonly items = new Map<string, Item>();
  private nextId = 1;

  constructor() {
    this.create({ title: 'Sample item' });
  }

  create(metadata: Record<string, string>): Item {
    const item: Item = { id: `VX-${this.nextId++}`, metadata: { ...metadata }, revision: 1 };
    this.items.set(item.id, item);
    return item;
  }

  get(id: string): Item | undefined {
    return this.items.get(id);
  }

  /** Merges fields into the item's metadata. */
  update(item: Item, fields: Record<string, string>): void {
    Object.assign(item.metadata, fields);
    item.revision += 1;
  }
}

export function etagOf(item: Item): string {
  return `"${item.id}-${item.revision}"`;
}

/** An entity tag in a list: its opaque part (quotes included), a weak `W/` prefix aside. */
const ENTITY_TAG = /(?:W\/)?("[^"]*")/g;

/**
 * `If-None-Match` against an item (RFC 9110 §13.1.2): `*`, or a list of entity tags of which
 * one matches by weak comparison, so `W/"x"` matches `"x"` and the other way round.
 */
export function noneMatchHits(header: string, item: Item): boolean {
  if (header.trim() === '*') return true;
  const opaque = etagOf(item);
  for (const [, tag] of header.matchAll(ENTITY_TAG)) if (tag === opaque) return true;
  return false;
}
