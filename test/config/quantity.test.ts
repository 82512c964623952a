/** Kubernetes resource quantities, read as the API server reads them. */
import { aboveLimit, parseQuantity } from '../../src/config/quantity';

describe('parseQuantity', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['250m', 0.25],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['2.', 2],
    ['100n', 100e-9],
    ['5u', 5e-6],
    ['1k', 1e3],
    ['64M', 64e6],
    ['1G', 1e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['2E', 2e18],
    ['1Ki', 1024],
    ['64Mi', 64 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1Ti', 2 ** 40],
    ['2Pi', 2 ** 51],
    ['1Ei', 2 ** 60],
    ['1e3', 1e3],
    ['1E3', 1e3],
    ['1e+3', 1e3],
    ['5e-3', 5e-3],
    ['1e18', 1e18],
    // A sign, as resource.ParseQuantity reads it; zero is no negative.
    ['+100m', 0.1],
    ['+1Gi', 2 ** 30],
    ['-0', 0],
    // resource.ParseQuantity reads a number without digits (a sign or a point alone, or
    // nothing before a suffix) as zero, which the API server takes.
    ['.', 0],
    ['+', 0],
    ['-', 0],
    ['-.', 0],
    ['+.5', 0.5],
    ['Mi', 0],
    ['m', 0],
    ['-.e3', 0],
    ['-0e-400', 0],
    // It rounds a value other than zero away from zero to a whole nano, never to zero.
    ['1e-400', 1e-9],
    ['0.5n', 1e-9],
  ])('%s is %d', (text, value) => {
    // Relative: 100n is 100 × 1e-9, a hair off the literal 100e-9.
    const parsed = parseQuantity(text);
    expect(parsed).toBeDefined();
    expect(value === 0 ? parsed : (parsed ?? 0) / value).toBeCloseTo(value === 0 ? 0 : 1, 12);
  });

  // A negative one is a quantity the API server refuses in a container's resources.
  it.each([
    '',
    'lots',
    '1 GB',
    '1GB',
    '-1',
    '-1m',
    '++1',
    '+-1',
    '1e',
    '1E+',
    '1mi',
    '1Ei3',
    '1e1000',
    '1e3.5',
    '.5.5',
    '--',
    'e',
    // -1n once rounded, below zero: not the -0 of a float that cannot hold it.
    '-1e-400',
    '-0.0000000001n',
    '-.1e-20',
  ])('%j is not a quantity', (text) => expect(parseQuantity(text)).toBeUndefined());
});

describe('aboveLimit', () => {
  it.each<[string, string, boolean]>([
    ['1E', '192Mi', true],
    ['2Ei', '1E', true],
    ['1E', '1Ei', false],
    ['96Mi', '192Mi', false],
    ['1', '1000m', false],
    ['lots', '1', false],
    // 1n once rounded, above a limit of none at all.
    ['1e-400', '0', true],
    ['1n', '0.5n', false],
    // Equal however spelled: 2300 × 0.001 is 2.3000000000000003 as a float, not 2.3.
    ['2300m', '2.3', false],
    ['9m', '0.009', false],
    ['2.31', '2300m', true],
    ['1.5Gi', '1610612736', false],
    ['1610612737', '1.5Gi', true],
  ])('%s above %s: %s', (request, limit, above) => {
    expect(aboveLimit(request, limit)).toBe(above);
  });
});
