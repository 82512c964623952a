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
