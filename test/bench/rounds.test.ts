import { evaluateIn } from './evaluate';

// How the benchmark reduces repeated rounds to what it reports: medians and ranges of each
// figure, ratios taken within each round, targets judged on the median and counted per round.

/** Expressions over `rounds` (bench/lib/rounds.mjs) and `report` (bench/lib/report.mjs). */
const evaluate = (...expressions: string[]) => evaluateIn(['rounds', 'report'], ...expressions);

const twoPlaces = '(v) => v.toFixed(2)';

describe('rounds of the side-by-side scenarios', () => {
  it('takes the median of odd and even counts, in any order, of the figures measured, and none of nothing', () => {
    expect(
      evaluate(
        'rounds.median([7])',
        'rounds.median([3, 1, 2])',
        'rounds.median([4, 1, 3, 2])',
        'rounds.median([])',
        'rounds.median([3, undefined, 1, null])',
        'rounds.median([undefined])',
      ),
    ).toEqual([7, 2, 2.5, null, 2, null]);
  });

  it('shows the range beside the median only when there is one to show', () => {
    expect(
      evaluate(
        `rounds.medianAndRange([1.234], ${twoPlaces}, '×')`,
        `rounds.medianAndRange([3, 1, 2], ${twoPlaces}, '×')`,
        `rounds.medianAndRange([1.001, 1.002], ${twoPlaces})`,
      ),
    ).toEqual(['1.23×', '2.00× (1.00–3.00)', '1.00']);
  });

  it('lets each contender go first in turn', () => {
    expect(evaluate(...[0, 1, 2, 3].map((by) => `rounds.rotated(['a', 'b', 'c'], ${by})`))).toEqual(
      [
        ['a', 'b', 'c'],
        ['b', 'c', 'a'],
        ['c', 'a', 'b'],
        ['a', 'b', 'c'],
      ],
    );
  });

  it('divides within each round, skipping rounds that lack either figure or divide by 0', () => {
    const rounds = JSON.stringify([
      { 'small@32': { proxy: { cpuUs: 100 }, go: { cpuUs: 50 } } },
      { 'small@32': { proxy: { cpuUs: 300 }, go: { cpuUs: 300 } } },
      { 'small@32': { proxy: { cpuUs: 200 }, go: { cpuUs: 400 } } },
      { 'small@32': { proxy: { error: 'refused' }, go: { cpuUs: 400 } } },
      { 'small@32': { proxy: { cpuUs: 200 }, go: { cpuUs: 0 } } },
      {},
    ]);
    const [ratios, overMedians] = evaluate(
      `rounds.ratioByRound(${rounds}, 'small@32', 'cpuUs', 'proxy', 'go')`,
      `200 / rounds.median(rounds.figureByRound(${rounds}, 'small@32', 'go', 'cpuUs'))`,
    );
    expect(ratios).toEqual([2, 1, 0.5]);
    // Why within each round: the ratio of the medians compares figures of different minutes.
    expect(overMedians).not.toBeCloseTo(1);
  });

  it('merges rounds into one result per contender: medians, count totals, failures', () => {
    const rounds = JSON.stringify([
      {
        'small@1': {
          direct: { rps: 900, errors: 0, cpuUs: null },
          proxy: { rps: 100, errors: 1, cpuUs: 250 },
        },
        download: { proxy: { error: 'timed out' } },
      },
      {
        'small@1': {
          proxy: { rps: 300, errors: 2, cpuUs: 260 },
          direct: { rps: 1000, errors: 0, cpuUs: null },
        },
        download: { proxy: { error: 'reset' } },
      },
      {
        'small@1': { proxy: { error: 'refused' }, direct: { rps: 1100, errors: 0, cpuUs: null } },
        download: { proxy: { error: 'timed out again' } },
      },
    ]);
    const [merged, measuredIn] = evaluate(
      `rounds.mergeRounds(${rounds})`,
      `[rounds.inRounds(${rounds}, 'download'), rounds.inRounds(${rounds}, 'start')]`,
    );
    expect(merged).toEqual({
      'small@1': {
        direct: { rps: 1000, errors: 0, cpuUs: null },
        proxy: { rps: 200, errors: 3, cpuUs: 255 },
      },
      download: { proxy: { error: 'timed out' } },
    });
    expect(measuredIn).toEqual([true, false]);
  });

  it('leaves a single round as it was measured', () => {
    const round = { 'small@32': { proxy: { rps: 123.4, p99: 5.5, errors: 0, rss: null } } };
    expect(evaluate(`rounds.mergeRounds([${JSON.stringify(round)}])`)).toEqual([round]);
  });
});

describe('the report of several rounds', () => {
  const figures = (proxy: number, go: number, nodehttp: number) => ({
    'small@32': { proxy: { cpuUs: proxy, rps: 1000 }, go: { cpuUs: go, rps: 2000 } },
    download: {
      proxy: { cpuMsPerGiB: 1000, rss: 90 + proxy / 100 },
      nodehttp: { cpuMsPerGiB: nodehttp, rss: 80 },
    },
  });
  // Per round, this proxy's CPU over Go's: 1.2, 0.9, 0.8; over node:http's per GiB: 0.8, 1.11, 1.25.
  const rounds = [figures(120, 100, 1250), figures(90, 100, 900), figures(160, 200, 800)];
  const report = {
    options: { connections: [32], sizeMiB: 64, starts: 1, idle: 10, cold: 10 },
    contenders: ['go', 'nodehttp', 'proxy'].map((name) => ({ name, label: name, available: true })),
    results: {},
    rounds,
  };
  let targets: { target: string; measured: string; pass: boolean | null }[];
  let table: string;
  let ratios: string;
  let note: string;
  const target = (name: string) => targets.find((t) => t.target.startsWith(name));

  beforeAll(() => {
    const merged = `{ ...${JSON.stringify(report)}, results: rounds.mergeRounds(${JSON.stringify(rounds)}) }`;
    [targets, table, ratios, note] = evaluate(
      `report.checkTargets(rounds.mergeRounds(${JSON.stringify(rounds)}), ${JSON.stringify(rounds)})`,
      `report.formatTable(${merged})`,
      `report.formatRatios(${merged})`,
      `report.formatRoundsNote(${JSON.stringify(report)})`,
    ) as [typeof targets, string, string, string];
  });

  it('judges a ratio target on the median of the per-round ratios and counts the rounds', () => {
    expect(target('small GET @32: CPU per request')).toMatchObject({
      measured: '0.90× (0.80–1.20), met in 2 of 3 rounds',
      pass: true,
      met: 2,
      perRound: [1.2, 0.9, 0.8],
    });
    // Met in one round, which a single run might have been: the median says FAIL.
    expect(target('download: CPU per GiB')).toMatchObject({
      measured: '1.11× (0.80–1.25), met in 1 of 3 rounds',
      pass: false,
      met: 1,
    });
    expect(target('download: peak RSS')).toMatchObject({
      measured: '91.2 MiB (90.9–91.6), met in 3 of 3 rounds',
      pass: true,
    });
    expect(target('upload: CPU per GiB')).toMatchObject({ measured: 'n/a', pass: null });
  });

  it('shows medians with their range in the figures and the ratios', () => {
    expect(table).toMatch(/CPU µs\/request +100 \(100–200\) +120 \(90\.0–160\)\n/);
    expect(table).toMatch(/peak RSS MiB +80\.0 +91\.2 \(90\.9–91\.6\)$/m);
    expect(ratios).toMatch(/CPU µs\/request +0\.90× \(0\.80–1\.20\) +\n/);
    expect(ratios).toMatch(/req\/s +0\.50× +\n/);
    expect(note).toMatch(/^Side by side in 3 rounds, each contender first in turn/);
  });
});

describe('memory at rest, weighed 1 s after and settled', () => {
  // 1 s after: 59.5 and 89.0 MiB; settled: 49.9 and 67.4 MiB.
  const results = {
    start: { proxy: { rss: 59.5, settledRss: 49.9 }, nodehttp: { rss: 43.0, settledRss: 41.4 } },
    idle: {
      proxy: { rss: 89.0, stillOpen: 1000, settledRss: 67.4, settledOpen: 0 },
      nodehttp: { rss: 80.1, stillOpen: 1000, settledRss: 55.5, settledOpen: 0 },
    },
  };
  const options = { connections: [], sizeMiB: 64, starts: 5, idle: 1000, cold: 10 };
  const contenders = ['nodehttp', 'proxy'].map((name) => ({ name, label: name, available: true }));
  type Target = { target: string; measured: string; pass: boolean | null };

  it('judges each memory target on both weighings, each line saying which', () => {
    const [targets] = evaluate(
      `report.checkTargets(${JSON.stringify(results)}, [], { settle: 30 })`,
    ) as [Target[]];
    const memory = targets.filter((t) => /idle RSS|idle keep-alive/.test(t.target));
    expect(memory).toEqual([
      {
        target: 'idle RSS (one user, ops on) ≤ 50 MiB, 1 s after the first request',
        measured: '59.5 MiB',
        pass: false,
      },
      {
        target: 'idle RSS (one user, ops on) ≤ 50 MiB, settled, 30 s at rest',
        measured: '49.9 MiB',
        pass: true,
      },
      {
        target: '1,000 idle keep-alive conns: RSS ≤ 80 MiB, 1 s after they opened',
        measured: '89.0 MiB, 1000 open',
        pass: false,
      },
      {
        target: '1,000 idle keep-alive conns: RSS ≤ 80 MiB, 30 s after they opened, at rest',
        measured: '67.4 MiB, 0 open',
        pass: true,
      },
    ]);
  });

  it('leaves the settled weighing out when it was not measured', () => {
    const [targets, table] = evaluate(
      `report.checkTargets(${JSON.stringify(results)}, [])`,
      `report.formatTable(${JSON.stringify({ options: { ...options, settle: 0 }, contenders, results, rounds: [] })})`,
    ) as [Target[], string];
    expect(targets.filter((t) => /settled/.test(t.target))).toEqual([]);
    expect(table).not.toMatch(/settled/);
  });

  it('prints the settled figure beside the 1-s one for every contender, and its ratio', () => {
    const report = { options: { ...options, settle: 30 }, contenders, results, rounds: [] };
    const [table, ratios] = evaluate(
      `report.formatTable(${JSON.stringify(report)})`,
      `report.formatRatios(${JSON.stringify(report)})`,
    ) as [string, string];
    expect(table).toMatch(/idle RSS MiB +43\.0 +59\.5\n +settled RSS MiB \(30 s\) +41\.4 +49\.9\n/);
    expect(table).toMatch(/RSS idle MiB +80\.1 +89\.0\n +settled RSS MiB \(30 s\) +55\.5 +67\.4\n/);
    expect(table).toMatch(/still open +1,000 +1,000\n +open after 30 s +0 +0/);
    expect(ratios).toMatch(/settled RSS MiB \(30 s\) +1\.21×/);
  });
});
