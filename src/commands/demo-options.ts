/**
 * The demo's options, declared once: `demo.ts` parses them, `--help` lists them, and a
 * listener that cannot bind names the option that moves it.
 */
export interface CommandOption {
  readonly flag: string;
  /** What the value looks like in help (`ADDR`). */
  readonly value: string;
  readonly default: string;
  readonly text: string;
}

export const DEMO_OPTIONS = {
  listen: {
    flag: '--listen',
    value: 'ADDR',
    default: '127.0.0.1:8080',
    text: "the proxy as alice; bob's listener takes the next port",
  },
  'ops-listen': {
    flag: '--ops-listen',
    value: 'ADDR',
    default: '127.0.0.1:9090',
    text: 'health, metrics and the status page',
  },
  'simulator-listen': {
    flag: '--simulator-listen',
    value: 'ADDR',
    default: '127.0.0.1:18080',
    text: 'the bundled Vidispine simulator',
  },
} as const satisfies Readonly<Record<string, CommandOption>>;
