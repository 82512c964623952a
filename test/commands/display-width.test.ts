import { displayWidth, padToWidth, visibleText } from '../../src/commands/display-width';

describe('displayWidth', () => {
  it.each([
    ['ASCII', 'alice', 5],
    ['nothing', '', 0],
    ['CJK ideographs', '田中', 4],
    ['Hangul', '한국', 4],
    ['fullwidth Latin', 'ＡＢ', 4],
    ['halfwidth Katakana', 'ｶﾀ', 2],
    ['a combining accent', 'Jose\u0301', 4],
    ['an emoji', '🎬', 2],
    ['a ZWJ sequence', '👩‍💻', 2],
    ['a flag', '🇸🇪', 2],
    ['a skin tone', '👍🏽', 2],
    ['a symbol in emoji presentation (VS16)', '❤️', 2],
    ['the same symbol as text', '❤', 1],
    ['a zero-width space', 'a\u200bb', 2],
    ['a mixed name', 'ops-田中🎬', 10],
  ])('%s: %j is %i columns', (_case, text, width) => {
    expect(displayWidth(text)).toBe(width);
  });
});

it('padToWidth pads to columns, never cuts', () => {
  expect(padToWidth('田中', 6)).toBe('田中  ');
  expect(padToWidth('👩‍💻', 4)).toBe('👩‍💻  ');
  expect(padToWidth('alice', 3)).toBe('alice');
});

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
