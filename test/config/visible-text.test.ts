import { shownKeyPath, shownValue, visibleText } from '../../src/visible-text';

describe('visibleText', () => {
  it.each([
    ['an escape sequence', '\x1b[2Jroot', '?[2Jroot'],
    ['line breaks and a bell', 'a\r\nb\x07', 'a??b?'],
    ['C1 controls (CSI, NEL) and DEL', '\u009b31m\u0085\x7f', '?31m??'],
    ['bidi overrides and zero-width characters', '\u202eexe.txt\u200b\ufeff', '?exe.txt??'],
    ['line and paragraph separators', 'a\u2028b\u2029', 'a?b?'],
    ['a lone surrogate', 'a\ud800b', 'a?b'],
    ['names in any script, untouched', '田中 👩‍💻 Jose\u0301', '田中 👩‍💻 Jose\u0301'],
  ])('%s: %j shows as %j', (_case, text, shown) => {
    expect(visibleText(text, 100)).toBe(shown);
  });

  it('cuts at `limit` code points, never inside a surrogate pair, and marks the cut', () => {
    expect(visibleText('abc', 3)).toBe('abc');
    expect(visibleText('abcd', 3)).toBe('abc…');
    expect(visibleText('🎬🎬🎬', 2)).toBe('🎬🎬…');
  });
});

describe('shownValue', () => {
  it('shows 200 characters of a value, then marks the cut', () => {
    expect(shownValue('v'.repeat(200))).toBe('v'.repeat(200));
    expect(shownValue('v'.repeat(201))).toBe(`${'v'.repeat(200)}…`);
    expect(shownValue('\x1b[2J\n')).toBe('?[2J?');
  });
});

describe('shownKeyPath', () => {
  it('shows a path of up to 140 characters whole', () => {
    const path = `users[0].${'k'.repeat(131)}`;
    expect(shownKeyPath(path)).toBe(path);
  });

  it('cuts a longer one in the middle, so its start and its end show', () => {
    const path = `users${'[0]'.repeat(812)}.name`;
    const shown = shownKeyPath(path);
    expect([...shown]).toHaveLength(140);
    expect(shown).toBe(`users${'[0]'.repeat(21)}[0…]${'[0]'.repeat(21)}.name`);
  });

  it('shows what a terminal would act on as ?', () => {
    expect(shownKeyPath('users[0].\x1b[2J')).toBe('users[0].?[2J');
  });
});
