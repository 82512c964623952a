import { parseExposition, value } from '../support/prom-parse';

describe('exposition parser (test support)', () => {
  const text = [
    '# HELP x_total Things, with a \\\\ backslash.',
    '# TYPE x_total counter',
    'x_total{a="1",b="say \\"hi\\"\\nbye"} 3',
    'x_total{a="2"} 1e3 1700000000000',
    '# HELP h_seconds Latency.',
    '# TYPE h_seconds histogram',
    'h_seconds_bucket{le="0.1"} 1',
    'h_seconds_bucket{le="+Inf"} 2',
    'h_seconds_sum 0.35',
    'h_seconds_count 2',
    'g NaN',
    '',
  ].join('\n');

  it('reads help, type, labels with escapes, values and histogram parts', () => {
    const e = parseExposition(text);
    expect(e.get('x_total')).toMatchObject({
      type: 'counter',
      help: 'Things, with a \\ backslash.',
    });
    expect(value(e, 'x_total', { a: '1', b: 'say "hi"\nbye' })).toBe(3);
    expect(value(e, 'x_total', { a: '2' })).toBe(1000);
    expect(e.get('h_seconds')?.samples).toHaveLength(4);
    expect(value(e, 'h_seconds_bucket', { le: '+Inf' })).toBe(2);
    expect(value(e, 'h_seconds_sum')).toBe(0.35);
    expect(value(e, 'g')).toBeNaN();
    expect(value(e, 'x_total', { a: '3' })).toBeUndefined();
  });

  it('rejects malformed lines instead of skipping them', () => {
    expect(() => parseExposition('x_total{a="1} 3')).toThrow(/bad/);
    expect(() => parseExposition('x_total 3 4 5')).toThrow(/bad exposition line/);
    expect(() => parseExposition('x_total{a="1",a="2"} 3')).toThrow(/duplicate/);
  });
});
