import { InFlight } from '../../src/proxy/in-flight';

describe('InFlight', () => {
  it('holds what was added until it is deleted, wherever it sits, newest first', () => {
    const list = new InFlight<string>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((v) => list.add(v));
    expect(list.values()).toEqual(['d', 'c', 'b', 'a']);
    list.delete(b);
    expect(list.values()).toEqual(['d', 'c', 'a']);
    list.delete(d);
    list.delete(a);
    expect(list.values()).toEqual(['c']);
    list.delete(c);
    expect(list.values()).toEqual([]);
    list.add('e');
    expect(list.values()).toEqual(['e']);
  });

  it('a node deleted twice is taken out once, and keeps nothing', () => {
    const list = new InFlight<object>();
    const kept = list.add({});
    const gone = list.add({});
    list.delete(gone);
    list.delete(gone);
    expect(gone).toEqual({ value: undefined, prev: undefined, next: undefined });
    expect(list.values()).toEqual([kept.value]);
  });

  it('values are a copy: deleting while going through them misses none', () => {
    const list = new InFlight<number>();
    const nodes = [1, 2, 3].map((v) => list.add(v));
    const seen: number[] = [];
    for (const value of list.values()) {
      seen.push(value);
      for (const node of nodes) list.delete(node);
    }
    expect(seen).toEqual([3, 2, 1]);
    expect(list.values()).toEqual([]);
  });
});
