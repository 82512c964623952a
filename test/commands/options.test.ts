import { ConfigError } from '../../src/config/errors';
import { parseConfigArgs, parseOptions } from '../../src/commands/options';

describe('parseConfigArgs', () => {
  it.each([
    [[], {}],
    [['--config', 'a.yaml'], { file: 'a.yaml' }],
    [['--config=b.yaml'], { file: 'b.yaml' }],
    [['-c', 'c.yaml'], { file: 'c.yaml' }],
  ])('%j', (args, expected) => {
    expect(parseConfigArgs(args)).toEqual(expected);
  });

  it.each([[['--bogus']], [['extra']], [['--config']], [['--config=']]])('rejects %j', (args) => {
    expect(() => parseConfigArgs(args)).toThrow(ConfigError);
  });

  it.each([[['--config', 'a.yaml', '--config', 'b.yaml']], [['-c', 'a.yaml', '--config=a.yaml']]])(
    'refuses %j, where the last file silently won',
    (args) => {
      expect(() => parseConfigArgs(args)).toThrow(
        '--config: given 2 times; give one configuration file',
      );
    },
  );
});

describe('parseOptions', () => {
  it('reports a bad option as a configuration error naming it', () => {
    expect(() => parseOptions(['--lisen', 'x'], { listen: { type: 'string' } })).toThrow(
      /^command line: .*Unknown option '--lisen'/,
    );
  });
});
