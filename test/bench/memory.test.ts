import { evaluateIn } from './evaluate';

// How a contender's memory is counted (bench/lib/procs.mjs): one process by its resident set,
// several (nginx's master and worker) by their proportional sets, shared pages counted once.

const memory = (pids: number[], rss: Record<number, number>, pss: Record<number, number>) =>
  evaluateIn(
    ['procs'],
    `procs.memoryKiB(${JSON.stringify(pids)}, {
      rss: (p) => (${JSON.stringify(rss)})[p],
      pss: (p) => (${JSON.stringify(pss)})[p],
    })`,
  )[0];

describe('the memory of a contender', () => {
  it('is the resident set of its one process', () => {
    expect(memory([10], { 10: 40_000 }, { 10: 31_000 })).toBe(40_000);
  });

  it('is the sum of the proportional sets of its processes, not of their resident sets', () => {
    // master and worker share 6 MiB: each resident set counts it whole, each Pss half of it.
    const rss = { 10: 8_000, 11: 20_000 };
    const pss = { 10: 5_000, 11: 17_000 };
    expect(memory([10, 11], rss, pss)).toBe(22_000);
  });
});
