/**
 * The validated, fully defaulted configuration every part of the proxy receives. Its keys,
 * defaults and meanings are declared once, in `schema.ts`; these types follow from it, plus
 * what `resolve.ts` makes of the keys that span several values (secret sources, per-user
 * token settings). Nothing outside `config/` ever sees raw input.
 */
import type { KeyNames } from './errors';
import type { ListenAddress } from './listen';
import type { LogLevel, RawConfig, RawToken, RawUser } from './schema';

export type { ListenAddress } from './listen';
export type { LogLevel } from './schema';

/**
 * Where a secret comes from. Files and env are read again before every mint. `setting` is
 * the key that gave it, in the words of the configuration's source (`VIDISPINE_PASSWORD_FILE`,
 * `users[1].passwordEnv`), so a rejected password can be traced to where it is set.
 */
export type SecretSource = (
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string }
) & { readonly setting?: string };

/**
 * What a Basic login presents: a user's password, or one of its access keys — then the
 * key's ID stands where the user name would (Vidispine takes a key no other way).
 */
export interface Credential {
  /** The Vidispine user it belongs to, for messages and checks. */
  readonly username: string;
  readonly kind: 'password' | 'accessKey';
  /** The Basic user name: `username`, or the access key's ID. */
  readonly basicUser: string;
  readonly secret: SecretSource;
}

/** A user's token keys: its own values laid over the top-level `token` block. */
export type TokenSettings = Readonly<Required<RawToken>>;

export type UserConfig = Readonly<
  Omit<RawUser, 'password' | 'passwordFile' | 'passwordEnv' | 'accessKey' | 'token'> & {
    /**
     * Own password or access key → `GET /API/token` (or `/API/user/{self}/token` on a
     * server without it). Absent → minted by `vidispine.runAs` or `vidispine.admin`.
     */
    credential?: Credential;
    token: TokenSettings;
  }
>;

export type VidispineConfig = Readonly<
  Omit<RawConfig['vidispine'], 'admin' | 'runAs'> & {
    /** Administrator credential used for `GET /API/user/{name}/token`. */
    admin?: Credential;
    /** A `_runas` service account used for `GET /API/token` + `RunAs: {name}`. */
    runAs?: Credential;
    /**
     * The bytes of `caFile`, read once before the proxy starts (`readCaFile`): what TLS
     * connections to Vidispine verify against, without reading the file again.
     */
    ca?: Buffer;
  }
>;

export type ProxySettings = Readonly<RawConfig['proxy']>;

export interface OpsConfig {
  /** Health + metrics listener; `null` disables it. */
  readonly listen: ListenAddress | null;
}

export type ShutdownConfig = Readonly<RawConfig['shutdown']>;

export interface ProxyConfig {
  /** How the user named the keys (variables, YAML paths, options): for runtime messages. */
  readonly names: KeyNames;
  readonly vidispine: VidispineConfig;
  readonly users: readonly UserConfig[];
  readonly proxy: ProxySettings;
  readonly ops: OpsConfig;
  readonly log: { readonly level: LogLevel };
  readonly shutdown: ShutdownConfig;
}

/**
 * The files read before anything listens, by the keys that name them (`loadStartConfig`): of a
 * configuration that validated, or of the sound keys of one that did not, so that one start
 * reports every problem.
 */
export interface StartFiles {
  readonly names: KeyNames;
  /** `vidispine.mintTimeoutSeconds`: the bound on each read. */
  readonly mintTimeoutSeconds: number;
  /** Whether that is the key's default, taken since its own value is bad. */
  readonly mintTimeoutRefused?: boolean;
  readonly caFile?: string;
  /** The password and access-key secret files, each naming its key (`setting`). */
  readonly secretFiles: readonly Extract<SecretSource, { kind: 'file' }>[];
}
