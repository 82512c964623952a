/**
 * Every key, given junk, is refused in the configuration's own words: never zod's defaults
 * ("Invalid string: must match pattern /^\d+$/", "Invalid input", "expected number"), which
 * tell an operator neither what the key takes nor why.
 */
import type * as z from 'zod';
import { injectorSchema, loadInjectorConfig } from '../../src/config/injector';
import { describedKeys } from '../../src/config/keys';
import { loadConfig } from '../../src/config/load';
import { fileSchema } from '../../src/config/schema';
import { tempFolder } from '../support/files';

const { file } = tempFolder('tailored');

/** Zod's own wordings (English locale) of the checks a key may fail. */
const ZOD_WORDING =
  /Invalid (string|input|option|key|element|value|type|number)|must match pattern|expected (string|number|boolean|array|object|nonoptional)|received (string|number|boolean|undefined|null|array|object)|Too (big|small)|Unrecognized key|safe integer/i;

const PROXY_ENV = {
  VIDISPINE_URL: 'http://vidispine:8080',
  VIDISPINE_USER: 'alice',
  VIDISPINE_PASSWORD: 'pw',
};
const INJECTOR_ENV = {
  WEBHOOK_CERT_FILE: '/nonexistent/tls.crt',
  WEBHOOK_KEY_FILE: '/nonexistent/tls.key',
  SIDECAR_IMAGE: 'registry.example.com/vidispine-auth-proxy:0.1.0',
};
const PROXY_YAML = {
  vidispine: { url: 'http://vidispine:8080' },
  users: [{ name: 'alice', password: 'pw', listen: '127.0.0.1:8080' }],
};
const INJECTOR_YAML = {
  webhook: { certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key' },
  sidecar: { image: 'registry.example.com/vidispine-auth-proxy:0.1.0' },
};

const ENV_JUNK = [
  'abc',
  '-1',
  '1.5',
  'a b',
  '@@@',
  '99999999999999999999',
  'A:B/C',
  'x'.repeat(300),
];
const YAML_JUNK: unknown[] = ['abc', -1, 1.5, true, [], { a: 1 }, 'a b', 1e20, 'A:B/C'];

/** The message loading throws, or '' when the value was taken. */
function messageOf(load: () => unknown): string {
  try {
    load();
    return '';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** `base` with `value` at `path` (`[]`: the first item of a list). */
function withValueAt(base: object, path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  let node: Record<string, unknown> | unknown[] = copy;
  path.forEach((segment, i) => {
    const last = i === path.length - 1;
    const slot = segment === '[]' ? 0 : segment;
    const container = node as Record<string | number, unknown>;
    if (last) {
      container[slot] = value;
      return;
    }
    const nextIsList = path[i + 1] === '[]';
    if (typeof container[slot] !== 'object' || container[slot] === null) {
      container[slot] = nextIsList ? [{}] : {};
    }
    node = container[slot] as Record<string, unknown>;
  });
  return copy;
}

const programs: [
  string,
  z.ZodType,
  (opts: { env: NodeJS.ProcessEnv; file?: string }) => unknown,
  NodeJS.ProcessEnv,
  object,
][] = [
  ['proxy', fileSchema, loadConfig, PROXY_ENV, PROXY_YAML],
  ['injector', injectorSchema, loadInjectorConfig, INJECTOR_ENV, INJECTOR_YAML],
];

describe.each(programs)(
  'the %s refuses junk in its own words',
  (_name, schema, load, env, yaml) => {
    const keys = describedKeys(schema);
    const variables = keys.flatMap((k) => (k.env === undefined ? [] : [k.env]));

    it.each(variables)('%s', (variable) => {
      for (const junk of ENV_JUNK) {
        const message = messageOf(() => load({ env: { ...env, [variable]: junk } }));
        expect({ junk, message }).toEqual({
          junk,
          message: expect.not.stringMatching(ZOD_WORDING),
        });
      }
    });

    it.each(keys.map((k) => [k.name, k.path] as const))('%s in the file', (_key, path) => {
      for (const junk of YAML_JUNK) {
        const path_ = file(JSON.stringify(withValueAt(yaml, path, junk)));
        const message = messageOf(() => load({ file: path_, env: {} }));
        expect({ junk, message }).toEqual({
          junk,
          message: expect.not.stringMatching(ZOD_WORDING),
        });
      }
    });
  },
);
