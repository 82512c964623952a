/**
 * `demo`: the bundled Vidispine simulator and a proxy wired to it, in one process, with
 * ready-to-paste curl lines. Two users show both ways of minting: alice with her own
 * password (`GET /API/token`), bob through the admin credential (`GET /API/user/bob/token`).
 */
import type { ProxyApp } from '../app';
import { variableValue } from '../config/env';
import { ConfigError, type KeyPath, keyPath, nameIssues, namesWith } from '../config/errors';
import { configFromObject } from '../config/load';
import { formatListen, ListenError, listenersCollide, parseListen } from '../config/listen';
import { listenerClash } from '../config/resolve';
import type { ListenAddress } from '../config/types';
import { createLogger } from '../ops/logger';
import { createSimulator } from '../simulator';
import { DEMO_OPTIONS } from './demo-options';
import { parseOptions } from './options';
import { serve } from './run';

type DemoOption = keyof typeof DEMO_OPTIONS;

function address(option: DemoOption, text: string): ListenAddress {
  const parsed = parseListen(text);
  if (typeof parsed === 'string') {
    throw new ConfigError({ key: DEMO_OPTIONS[option].flag, problem: parsed });
  }
  return parsed;
}

/** The demo's configuration is written by its options: messages name those. */
const DEMO_NAMES = namesWith({
  'users[0].listen': DEMO_OPTIONS.listen.flag,
  'users[1].listen': `${DEMO_OPTIONS.listen.flag} (bob's listener, the port after alice's)`,
  'ops.listen': DEMO_OPTIONS['ops-listen'].flag,
  'simulator.listen': DEMO_OPTIONS['simulator-listen'].flag,
});

const SIMULATOR_LISTEN: KeyPath = ['simulator', 'listen'];

function curlLines(app: ProxyApp): string {
  const [alice, bob] = app.listeners.map((l) => {
    const a = l.address();
    return a ? `http://${formatListen({ host: a.address, port: a.port })}` : '';
  });
  const opsAddress = app.ops?.address();
  const ops = opsAddress
    ? `http://${formatListen({ host: opsAddress.address, port: opsAddress.port })}`
    : '';
  return `
vidispine-auth-proxy demo: no credentials needed below, the proxy mints and attaches tokens.

  proxy as alice (own password, GET /API/token):          ${alice}
  proxy as bob (admin credential, GET /API/user/bob/token): ${bob}
  ops (health, metrics, status):                          ${ops}

Try:
  curl ${alice}/API/whoami
  curl ${bob}/API/whoami
  curl -i -X POST -H 'Content-Type: application/json' -d '{"title":"demo"}' ${alice}/API/item
  curl '${alice}/API/item/VX-1;version=3/metadata'
  head -c 10000000 /dev/urandom > /tmp/demo.bin && curl -T /tmp/demo.bin '${alice}/API/import/raw?transferId=demo&filename=demo.bin'
  curl -s -r 0-99 '${alice}/API/storage/file/VX-1/data?size=1048576' | wc -c
  curl ${ops}/readyz
  curl ${ops}/status
  curl -s ${ops}/metrics | grep '^vidispine_auth_proxy_token'

Press Ctrl-C to stop.
`;
}

export async function demoCommand(args: readonly string[]): Promise<number> {
  const flags = parseOptions(args, {
    listen: { type: 'string' },
    'ops-listen': { type: 'string' },
    'simulator-listen': { type: 'string' },
  });
  const listen = address('listen', flags.listen ?? DEMO_OPTIONS.listen.default);
  const opsListen = flags['ops-listen'] ?? DEMO_OPTIONS['ops-listen'].default;
  const simulatorListen = address(
    'simulator-listen',
    flags['simulator-listen'] ?? DEMO_OPTIONS['simulator-listen'].default,
  );
  // A clash with an option left to its default is named at the option given (bob's listener
  // follows --listen, given or not, and is never called a default).
  const defaulted: KeyPath[] = [
    ...(flags.listen === undefined ? [['users', 0, 'listen']] : []),
    ...(flags['ops-listen'] === undefined ? [['ops', 'listen']] : []),
  ];
  const simulatorDefaulted = flags['simulator-listen'] === undefined ? [SIMULATOR_LISTEN] : [];
  refuseSharedAddress(simulatorListen, listen, opsListen, [...defaulted, ...simulatorDefaulted]);

  const simulator = createSimulator();
  // A busy port is reported (exit 1) by the option that moves it.
  const simulatorUrl = await ListenError.around(
    DEMO_OPTIONS['simulator-listen'].flag,
    simulatorListen,
    () => simulator.listen(simulatorListen.port, simulatorListen.host),
  );
  try {
    return await proxyFor(simulatorUrl, listen, opsListen, defaulted);
  } finally {
    await simulator.close();
  }
}

/** bob's listener sits on the next port (or another free one when the first is picked freely). */
function bobListen(listen: ListenAddress): ListenAddress {
  return { host: listen.host, port: listen.port === 0 ? 0 : listen.port + 1 };
}

/**
 * The simulator binds first, so an address it shares with a proxy listener would otherwise
 * fail only at that listener's bind (exit 1), the simulator's banner already printed. An
 * `--ops-listen` that does not parse (or is `off`) is left to the proxy's configuration.
 */
function refuseSharedAddress(
  simulator: ListenAddress,
  listen: ListenAddress,
  opsListen: string,
  defaulted: readonly KeyPath[],
): void {
  const ops = parseListen(opsListen);
  const taken: readonly (readonly [KeyPath, ListenAddress | string])[] = [
    [['users', 0, 'listen'], listen],
    [['users', 1, 'listen'], bobListen(listen)],
    [['ops', 'listen'], ops],
  ];
  const clash = taken.find(([, a]) => typeof a !== 'string' && listenersCollide(simulator, a));
  if (clash === undefined || typeof clash[1] === 'string') return;
  // Worded as the proxy's own listeners' clashes are: at the option given, when the other
  // is a default.
  const isDefault = (path: KeyPath) => defaulted.some((d) => keyPath(d) === keyPath(path));
  const issue = listenerClash(
    { path: clash[0], address: clash[1] },
    { path: SIMULATOR_LISTEN, address: simulator },
    isDefault,
  );
  throw new ConfigError(nameIssues([issue], DEMO_NAMES));
}

/** The proxy in front of the simulator, until it is stopped. */
async function proxyFor(
  simulatorUrl: string,
  listen: ListenAddress,
  opsListen: string,
  defaulted: readonly KeyPath[],
): Promise<number> {
  const config = configFromObject(
    {
      vidispine: { url: simulatorUrl, admin: { username: 'admin', password: 'admin' } },
      users: [
        { name: 'alice', password: 'alice-password', listen: formatListen(listen) },
        { name: 'bob', listen: formatListen(bobListen(listen)) },
      ],
      ops: { listen: opsListen },
      log: { level: variableValue(process.env.LOG_LEVEL ?? 'warn') },
      shutdown: { delaySeconds: 0, drainSeconds: 5 },
    },
    process.env,
    DEMO_NAMES,
    defaulted,
  );
  process.stdout.write(
    `Vidispine simulator: ${simulatorUrl} (users admin/admin, alice/alice-password, bob/bob-password)\n`,
  );
  const logger = createLogger({ level: config.log.level });
  // Ctrl-C stops it, and so does closing its terminal.
  return serve(config, logger, {
    onStarted: (app) => process.stdout.write(curlLines(app)),
    stopOnHangUp: true,
  });
}
