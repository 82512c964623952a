import { evaluateIn } from './evaluate';

// How this proxy's figures are judged against its targets when one is missing or the run
// measured another workload than the target's.

type Target = { target: string; measured: string; pass: boolean | null; perRound?: unknown[] };

const check = (results: object, rounds: object[], options: object = {}) =>
  (
    evaluateIn(
      ['report'],
      `report.checkTargets(${JSON.stringify(results)}, ${JSON.stringify(rounds)}, ${JSON.stringify(options)})`,
    ) as [Target[]]
  )[0];

const find = (targets: Target[], name: string) => targets.find((t) => t.target.startsWith(name));

describe('a figure this proxy lacks', () => {
  it('fails a ratio target whose reference was measured: a p99 that came back as no number', () => {
    // JSON has no Infinity: a latency past the load generator's range arrived as null.
    const round = { 'small@32': { nginx: { p99: 12 }, proxy: { p99: null } } };
    expect(find(check(round, [round]), 'small GET @32: p99')).toEqual({
      target: 'small GET @32: p99 ≤ 2× nginx',
      measured: 'missing',
      pass: false,
      met: 0,
      perRound: [null],
    });
  });

  it('fails a ratio target when this proxy failed the scenario in one of the rounds', () => {
    const good = { 'small@32': { go: { cpuUs: 100 }, proxy: { cpuUs: 90 } } };
    const failed = { 'small@32': { go: { cpuUs: 100 }, proxy: { error: 'boom' } } };
    expect(find(check(good, [good, failed]), 'small GET @32: CPU')).toMatchObject({
      measured: 'missing in 1 of 2 rounds',
      pass: false,
      perRound: [0.9, null],
    });
  });

  it('fails the added-latency target when only the direct figure was measured', () => {
    const round = { 'small@1': { direct: { p50: 0.1 }, proxy: { p50: null } } };
    expect(find(check(round, [round]), 'small GET @1: added p50')).toMatchObject({
      measured: 'missing',
      pass: false,
    });
  });

  it('fails the targets of a scenario this proxy took part in and failed', () => {
    const results = {
      start: { proxy: { error: 'exited (1)' } },
      idle: { proxy: { error: 'exited (1)' } },
      cold: { proxy: { error: 'exited (1)' } },
    };
    const targets = check(results, [], { settle: 0 });
    for (const name of ['idle RSS', '1,000 idle keep-alive', 'start to ready', 'cold start']) {
      expect(find(targets, name)).toMatchObject({ measured: 'missing', pass: false });
    }
  });

  it('leaves a target unjudged when neither figure was measured', () => {
    const targets = check({}, [{}]);
    expect(targets.every((t) => t.pass === null && t.measured === 'n/a')).toBe(true);
  });
});

describe('a run of another workload than the targets are defined on', () => {
  const results = {
    idle: { proxy: { rss: 60, stillOpen: 200, settledRss: 50, settledOpen: 0 } },
    cold: { proxy: { mints: { alice: 1 } } },
  };
  const rounds = [{ download: { proxy: { rss: 90 } }, upload: { proxy: { rss: 95 } } }];
  const merged = { ...results, ...rounds[0] };

  it('does not judge the idle connections, peak RSS and cold start targets, saying what they need', () => {
    const targets = check(merged, rounds, { settle: 30, idle: 200, sizeMiB: 256, cold: 2000 });
    const unjudged = (name: string) => find(targets, name);
    for (const when of ['1 s after they opened', '30 s after they opened']) {
      expect(unjudged(`1,000 idle keep-alive conns: RSS ≤ 80 MiB, ${when}`)).toEqual({
        target: expect.any(String),
        measured: 'not judged: needs --idle=1000 (ran 200)',
        pass: null,
      });
    }
    for (const mode of ['download', 'upload']) {
      expect(unjudged(`${mode}: peak RSS`)).toEqual({
        target: `${mode}: peak RSS ≤ 100 MiB`,
        measured: 'not judged: needs --size=1024 (ran 256)',
        pass: null,
      });
    }
    expect(unjudged('cold start')).toMatchObject({
      measured: 'not judged: needs --cold=10000 (ran 2000)',
      pass: null,
    });
    const printed = evaluateIn(
      ['report'],
      `report.formatTargets(${JSON.stringify(targets)})`,
    )[0] as string;
    expect(printed).toMatch(/^ -- {3}download: peak RSS ≤ 100 MiB +not judged: needs --size=1024/m);
  });

  it('judges them on the workload they are defined on', () => {
    const targets = check(merged, rounds, {
      settle: 30,
      idle: 1000,
      sizeMiB: 1024,
      cold: 10000,
    });
    expect(find(targets, '1,000 idle keep-alive conns: RSS ≤ 80 MiB, 1 s')).toMatchObject({
      measured: '60.0 MiB, 200 open',
      pass: true,
    });
    expect(find(targets, 'download: peak RSS')).toMatchObject({ measured: '90.0 MiB', pass: true });
    expect(find(targets, 'cold start')).toMatchObject({ measured: 'alice:1', pass: true });
  });
});
