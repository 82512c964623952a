/**
 * The environment a container's process gets from its spec, as the kubelet builds it: the
 * `envFrom` ConfigMaps' data as it is, then each `env[].value` expanded in order. In an
 * `env` value, `$(NAME)` becomes the value of a variable defined before it (left as it is
 * when there is none) and `$$` becomes `$`; every other `$` stays. This is Kubernetes'
 * `third_party/forked/golang/expansion`, so that what the tests compare is what the proxy
 * would read, not the manifest's text.
 */

/** One `env[].value` expanded against the variables defined before it. */
export function expandEnvValue(value: string, defined: ReadonlyMap<string, string>): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const next = value[i + 1];
    if (value[i] !== '$' || next === undefined) {
      out += value[i];
      i += 1;
    } else if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(' && value.indexOf(')', i + 2) !== -1) {
      const close = value.indexOf(')', i + 2);
      const name = value.slice(i + 2, close);
      out += defined.get(name) ?? `$(${name})`;
      i = close + 1;
    } else {
      // An incomplete reference or a lone operator: kept, and the next character read as text.
      out += '$';
      i += 1;
    }
  }
  return out;
}

/**
 * Each `env` entry with its value as the process sees it (entries without a string value,
 * such as `valueFrom`, as they are), after the variables `envFrom` gives.
 */
export function expandedEnv(
  fromConfigMaps: ReadonlyMap<string, string>,
  env: readonly Record<string, unknown>[],
): Record<string, unknown>[] {
  const defined = new Map(fromConfigMaps);
  return env.map((e) => {
    if (typeof e.value !== 'string') return e;
    const value = expandEnvValue(e.value, defined);
    defined.set(String(e.name), value);
    return { ...e, value };
  });
}
