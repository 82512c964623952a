/**
 * The tests compare the environment the proxy would read, so the expansion they model must
 * be Kubernetes' own: these are the cases of its `third_party/forked/golang/expansion`.
 */
import { expandEnvValue, expandedEnv } from '../support/kubelet-env';

const DEFINED = new Map([
  ['VAR_A', 'A'],
  ['VAR_B', 'B'],
  ['VAR_EMPTY', ''],
]);

describe("the kubelet's expansion of an env value", () => {
  it.each([
    ['$(VAR_A)', 'A'],
    ['___$(VAR_B)___', '___B___'],
    ['$(VAR_A)-$(VAR_A)', 'A-A'],
    ['$(VAR_EMPTY)x', 'x'],
    ['$(UNKNOWN)', '$(UNKNOWN)'],
    ['$$(VAR_A)', '$(VAR_A)'],
    ['$$$(VAR_A)', '$A'],
    ['f000-$$VAR_A', 'f000-$VAR_A'],
    ['$$', '$'],
    ['$$$', '$$'],
    ['$$$$', '$$'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$x', '$x'],
    ['$VAR_A', '$VAR_A'],
    ['$(VAR_A', '$(VAR_A'],
    ['$($$', '$($'],
    ['$()', '$()'],
    ['no dollars', 'no dollars'],
  ])('%j → %j', (value, expected) => {
    expect(expandEnvValue(value, DEFINED)).toBe(expected);
  });

  it('reads the variables envFrom gives and those before it, not those after', () => {
    const env = expandedEnv(new Map([['FROM_MAP', 'm$$']]), [
      { name: 'FIRST', value: '$(FROM_MAP)+$(LATER)' },
      { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
      { name: 'LATER', value: '$(FIRST)$$' },
    ]);
    expect(env).toEqual([
      { name: 'FIRST', value: 'm$$+$(LATER)' },
      { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
      { name: 'LATER', value: 'm$$+$(LATER)$' },
    ]);
  });
});
