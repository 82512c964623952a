import { displayWidth, padToWidth } from '../../src/commands/display-width';

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
