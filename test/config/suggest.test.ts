import { distance } from 'fastest-levenshtein';
import { runCli } from '../support/cli';
import { nearest, nearestAmong } from '../../src/config/suggest';

/** A fixed pseudo-random sequence (mulberry32), so a failure names the same pair every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'AB_CD';

function word(next: () => number, length: number): string {
  return Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
}

/** `text` after `count` random insertions, deletions and substitutions. */
function edited(next: () => number, text: string, count: number): string {
  let out = text;
  for (let i = 0; i < count; i++) {
    const at = Math.floor(next() * (out.length + 1));
    const letter = ALPHABET[Math.floor(next() * ALPHABET.length)];
    const kind = Math.floor(next() * 3);
    if (kind === 0) out = out.slice(0, at) + letter + out.slice(at);
    else if (kind === 1) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + letter + out.slice(at + 1);
  }
  return out;
}

/** What an edit distance for every candidate finds: the nearest within its tolerance. */
function bruteForce(
  typed: string,
  names: readonly string[],
  tolerance: (length: number) => number,
): string | undefined {
  let best: { name: string; edits: number } | undefined;
  for (const name of names) {
    const edits = distance(typed.toLowerCase(), name.toLowerCase());
    if (edits <= tolerance(name.length) && (best === undefined || edits < best.edits)) {
      best = { name, edits };
    }
  }
  return best?.name;
}

describe('nearestAmong', () => {
  it.each([0, 1, 2, 3])(
    'finds what an edit distance for every candidate finds, within %i edits',
    (allowed) => {
      const next = random(7 + allowed);
      // a small alphabet, so that many words are near a candidate and the pieces are common
      const names = Array.from({ length: 30 }, () => word(next, 1 + Math.floor(next() * 14)));
      const find = nearestAmong(names, () => allowed);
      let found = 0;
      for (let i = 0; i < 4_000; i++) {
        const base = names[Math.floor(next() * names.length)];
        const typed =
          next() < 0.7 ? edited(next, base, Math.floor(next() * 5)) : word(next, base.length);
        const expected = bruteForce(typed, names, () => allowed);
        if (expected !== undefined) found++;
        expect(find(typed)).toBe(expected);
      }
      expect(found).toBeGreaterThan(500);
    },
  );

  it('ignores case and takes names with the characters of a regular expression', () => {
    const find = nearestAmong(['vidispine-auth-proxy/user', 'a.b*c', 'LOG_LEVEL'], () => 2);
    expect(find('vidispine-auth-proxy/usr')).toBe('vidispine-auth-proxy/user');
    expect(find('a.b*d')).toBe('a.b*c');
    // taken as a pattern, `a+b` would not match itself and `(x` would not compile
    const exact = nearestAmong(['a+b', '(x', '[y'], () => 0);
    expect(exact('a+b')).toBe('a+b');
    expect(exact('(x')).toBe('(x');
    expect(exact('aab')).toBeUndefined();
    expect(find('log_levl')).toBe('LOG_LEVEL');
    expect(nearestAmong([])('anything')).toBeUndefined();
  });

  it('nearest is the same for a single word, with tolerance growing with the length', () => {
    expect(nearest('pasword', ['password', 'username'])).toBe('password');
    expect(nearest('tokn', ['token'])).toBe('token');
    expect(nearest('tk', ['token'])).toBeUndefined();
  });
});

/** The functions of the check: fastest-levenshtein's, suggest.ts's and env.ts's. */
const CHECK = /<JSFunction (myers_\w+|distance\w*|nearest\w*|nearMisses|pieces)\b/;

describe('the check of the environment at start-up', () => {
  // An edit distance for every pair made V8 optimise it at every start with two dozen
  // variables or more, and the optimising compiler's pages stayed resident in each idle pod.
  it('refuses a misspelt variable among a thousand without V8 optimising anything for it', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    for (let i = 0; i < 1_000; i++) env[`APP_SETTING_${i}_VALUE`] = 'x';
    env.VIDISPINE_URL = 'http://127.0.0.1:9';
    env.VIDISPINE_USER = 'alice';
    env.VIDISPINE_PASWORD = 'x';
    const r = await runCli(['run'], { env, nodeArgs: ['--trace-opt'] });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('VIDISPINE_PASWORD');
    // Node.js 24's Maglev compiles some of the start-up's own functions whatever the check
    // does; those of the check must not be among them.
    const marked = r.stdout.split('\n').filter((line) => line.startsWith('[marking'));
    expect(marked.filter((line) => CHECK.test(line))).toEqual([]);
  });
});
