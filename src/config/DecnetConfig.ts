/**
 * Typed DECNET settings: the one module that reads configuration (effect `Config`, so any
 * ConfigProvider works: env+INI in production, `ConfigProvider.fromMap` in tests). Every other module
 * takes its settings from the `DecnetConfig` tag. A bad value fails with a ConfigError naming the key.
 */
import * as os from "node:os"
import { Config, ConfigError, ConfigProvider, Context, Either, Layer, Option, type Redacted } from "effect"
// Address.js directly, not the docker index: the CLI resolves this module at every start-up, and the
// DOCKER_HOST grammar is all it needs from the Docker context.
import { type DockerAddress, DOCKER_HOST_EXPECTED, parseDockerHost } from "../docker/Address.js"

const invalid = (name: string, expected: string, got: string) =>
  ConfigError.InvalidData([], `${name}: expected ${expected}, got '${got}'`)

/** Every error message begins with the variable name, whatever path the provider reports. */
const validated = <A>(
  name: string,
  expected: string,
  decode: (raw: string) => A | undefined
): Config.Config<A> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const value = decode(raw.trim())
      return value === undefined ? Either.left(invalid(name, expected, raw)) : Either.right(value)
    })
  )

export const TRUE_WORDS: ReadonlyArray<string> = ["true", "1", "yes", "on"]
export const FALSE_WORDS: ReadonlyArray<string> = ["false", "0", "no", "off"]
const BOOLEAN_EXPECTED = `a boolean (${TRUE_WORDS.join("|")} or ${FALSE_WORDS.join("|")})`

/**
 * The one boolean convention (docs/configuration.md "Booleans"). Unset and empty both mean the default,
 * because an INI `key =` line or an `EnvironmentFile=` stub is "not configured", not "false"; any other
 * word is an error rather than a silent guess, since a typo in a security switch must not flip it.
 */
export const bool = (name: string, fallback: boolean): Config.Config<boolean> =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.mapOrFail((raw) => {
      const word = raw.trim().toLowerCase()
      if (word === "") return Either.right(fallback)
      if (TRUE_WORDS.includes(word)) return Either.right(true)
      if (FALSE_WORDS.includes(word)) return Either.right(false)
      return Either.left(invalid(name, BOOLEAN_EXPECTED, raw))
    })
  )

const integerIn = (name: string, min: number, max: number): Config.Config<number> =>
  validated(name, `an integer ${min}-${max}`, (raw) => {
    if (!/^[+-]?\d+$/.test(raw)) return undefined
    const n = Number(raw)
    return n >= min && n <= max ? n : undefined
  })

export const port = (name: string): Config.Config<number> => integerIn(name, 1, 65535)
export const positiveInt = (name: string): Config.Config<number> =>
  integerIn(name, 1, Number.MAX_SAFE_INTEGER)

export const oneOf = <const T extends string>(name: string, values: ReadonlyArray<T>): Config.Config<T> =>
  validated(name, `one of ${values.join("|")}`, (raw) => values.find((v) => v === raw.toLowerCase()))

const str = (name: string, fallback: string): Config.Config<string> =>
  Config.string(name).pipe(Config.withDefault(fallback))

/** An optional text value; empty counts as unset. */
const optionalStr = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((s) => s.trim() !== "")))

const optionalSecret = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(name))

/** `DOCKER_HOST` as a typed address; unset or empty is the system socket. */
const dockerHost: Config.Config<DockerAddress> = Config.string("DOCKER_HOST").pipe(
  Config.withDefault(""),
  Config.mapOrFail((raw) =>
    Either.mapLeft(parseDockerHost(raw), (why) =>
      ConfigError.InvalidData([], `DOCKER_HOST: expected ${DOCKER_HOST_EXPECTED}, got '${raw}' (${why})`)
    )
  )
)

export const DEFAULT_OTEL_ENDPOINT = "http://localhost:4318"

export type Mode = "master" | "agent"
export type DbType = "sqlite" | "mysql"
export type BusType = "unix" | "nats" | "fake"

/** A NATS URL may carry credentials (`nats://user:pass@host`), so it is Redacted. */
export const busSettings = Config.all({
  enabled: bool("DECNET_BUS_ENABLED", true),
  type: oneOf("DECNET_BUS_TYPE", ["unix", "nats", "fake"] as const).pipe(Config.withDefault<BusType>("unix")),
  /** Raw override only; the bus module resolves the default socket location. */
  socket: optionalStr("DECNET_BUS_SOCKET"),
  url: optionalSecret("DECNET_BUS_URL"),
  group: str("DECNET_BUS_GROUP", "decnet"),
  /** The name shown to the broker / NATS server when the code names none. */
  clientName: optionalStr("DECNET_BUS_CLIENT_NAME")
})

/** The honeypot runtime's limits (src/honeypots/runtime/Limits.ts explains each). */
export const honeypotSettings = Config.all({
  maxLineBytes: positiveInt("DECNET_HONEYPOT_MAX_LINE_BYTES").pipe(Config.withDefault(8 * 1024)),
  maxFrameBytes: positiveInt("DECNET_HONEYPOT_MAX_FRAME_BYTES").pipe(Config.withDefault(1024 * 1024)),
  writeHighWaterBytes: positiveInt("DECNET_HONEYPOT_WRITE_HIGH_WATER_BYTES").pipe(
    Config.withDefault(256 * 1024)
  ),
  maxWriteBacklogBytes: positiveInt("DECNET_HONEYPOT_MAX_WRITE_BACKLOG_BYTES").pipe(
    Config.withDefault(8 * 1024 * 1024)
  ),
  idleTimeoutMs: positiveInt("DECNET_HONEYPOT_IDLE_TIMEOUT_MS").pipe(Config.withDefault(120_000)),
  loginGraceMs: positiveInt("DECNET_HONEYPOT_LOGIN_GRACE_MS").pipe(Config.withDefault(120_000)),
  maxSessionMs: positiveInt("DECNET_HONEYPOT_MAX_SESSION_MS").pipe(Config.withDefault(3_600_000)),
  maxConnectionsPerIp: positiveInt("DECNET_HONEYPOT_MAX_CONN_PER_IP").pipe(Config.withDefault(32)),
  maxConnections: positiveInt("DECNET_HONEYPOT_MAX_CONN").pipe(Config.withDefault(1024))
})

/** A comma list; empty items dropped. */
const list = (name: string, fallback: ReadonlyArray<string>): Config.Config<ReadonlyArray<string>> =>
  Config.string(name).pipe(
    Config.map((raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    ),
    Config.withDefault(fallback)
  )

/** A non-negative decimal (seconds). */
const seconds = (name: string, fallback: number): Config.Config<number> =>
  validated(name, "a number of seconds ≥ 0", (raw) => {
    if (!/^\d+(?:\.\d+)?$/.test(raw)) return undefined
    return Number(raw)
  }).pipe(Config.withDefault(fallback))

/** A decimal number of seconds above 0 (a period: 0 would spin). */
const positiveSeconds = (name: string, fallback: number): Config.Config<number> =>
  validated(name, "a number of seconds > 0", (raw) => {
    if (!/^\d+(?:\.\d+)?$/.test(raw)) return undefined
    const n = Number(raw)
    return n > 0 ? n : undefined
  }).pipe(Config.withDefault(fallback))

/** The evidence pipeline: the collector's filters and the fleet workers' periods (spec §4.2, workers §4). */
export const pipelineSettings = Config.all({
  dropApps: list("DECNET_COLLECTOR_DROP_APPS", [
    "sshd",
    "pam_unix",
    "sudo",
    "su",
    "CRON",
    "cron",
    "systemd",
    "kernel",
    "rsyslogd",
    "dbus-daemon"
  ]),
  rlWindowSec: seconds("DECNET_COLLECTOR_RL_WINDOW_SEC", 1),
  rlEventTypes: list("DECNET_COLLECTOR_RL_EVENT_TYPES", [
    "connect",
    "disconnect",
    "connection",
    "accept",
    "close"
  ]),
  sessionAggTtlSec: seconds("DECNET_COLLECTOR_SESSION_AGG_TTL_SEC", 3600),
  reconcileSec: seconds("DECNET_COLLECTOR_RECONCILE_S", 30),
  /** Proxies whose forwarding headers are legitimate, not an attacker's IP leak (bounty extraction). */
  trustedProxies: list("DECNET_TRUSTED_PROXIES", [])
})

export const decnetConfig = Config.all({
  mode: oneOf("DECNET_MODE", ["master", "agent"] as const).pipe(Config.withDefault<Mode>("master")),
  disallowMaster: bool("DECNET_DISALLOW_MASTER", true),
  developer: bool("DECNET_DEVELOPER", false),
  developerTracing: bool("DECNET_DEVELOPER_TRACING", false),
  otelEndpoint: str("DECNET_OTEL_ENDPOINT", DEFAULT_OTEL_ENDPOINT),
  /** The test harness: an empty MySQL password is allowed. */
  testing: bool("DECNET_TESTING", false),
  api: Config.all({
    host: str("DECNET_API_HOST", "127.0.0.1"),
    port: port("DECNET_API_PORT").pipe(Config.withDefault(8000)),
    /** `/docs` and `/openapi.json`; only `false` turns them off. */
    docs: bool("DECNET_API_DOCS", true),
    /** Rate limits (login, change-password); only `false` turns them off. */
    limiterEnabled: bool("DECNET_LIMITER_ENABLED", true),
    sseMaxPerUser: positiveInt("DECNET_SSE_MAX_PER_USER").pipe(Config.withDefault(5)),
    /** Silence on an SSE stream before a `: keepalive` comment (spec api §5.4, topology §8: 15 s). */
    sseKeepaliveSeconds: positiveSeconds("DECNET_SSE_KEEPALIVE_SECONDS", 15),
    /** Skip the background deploy/mutate work (the contract tests of spec api §7.12). */
    contractTest: bool("DECNET_CONTRACT_TEST", false)
  }),
  web: Config.all({
    host: str("DECNET_WEB_HOST", "127.0.0.1"),
    port: port("DECNET_WEB_PORT").pipe(Config.withDefault(8080)),
    corsOrigins: optionalStr("DECNET_CORS_ORIGINS"),
    /** The built dashboard the API serves at `/`; unset: dist/web of the decnet package. */
    dir: optionalStr("DECNET_WEB_DIR")
  }),
  admin: Config.all({
    user: str("DECNET_ADMIN_USER", "admin"),
    password: optionalSecret("DECNET_ADMIN_PASSWORD")
  }),
  jwt: Config.all({
    secret: optionalSecret("DECNET_JWT_SECRET"),
    expMinutes: positiveInt("DECNET_JWT_EXP_MINUTES").pipe(Config.withDefault(240))
  }),
  /** bcrypt's own bounds: below 4 it refuses, above 31 the cost overflows. */
  bcryptRounds: integerIn("DECNET_BCRYPT_ROUNDS", 4, 31).pipe(Config.withDefault(12)),
  db: Config.all({
    type: oneOf("DECNET_DB_TYPE", ["sqlite", "mysql"] as const).pipe(Config.withDefault<DbType>("sqlite")),
    url: optionalSecret("DECNET_DB_URL"),
    host: str("DECNET_DB_HOST", "localhost"),
    port: port("DECNET_DB_PORT").pipe(Config.withDefault(3306)),
    name: str("DECNET_DB_NAME", "decnet"),
    user: str("DECNET_DB_USER", "decnet"),
    password: optionalSecret("DECNET_DB_PASSWORD"),
    path: optionalStr("DECNET_DB_PATH")
  }),
  /** How this process runs, where that picks default paths (the SQLite file, the bus socket). */
  system: Config.all({
    /** DECNET_SYSTEM_SERVICE: running as a system service. */
    service: bool("DECNET_SYSTEM_SERVICE", false),
    /** systemd sets INVOCATION_ID for every unit it starts: a service even without the flag. */
    invocationId: optionalStr("INVOCATION_ID"),
    home: optionalStr("HOME").pipe(Config.map(Option.getOrElse(() => os.homedir())))
  }),
  bus: busSettings,
  docker: Config.all({ host: dockerHost }),
  swarm: Config.all({
    masterHost: optionalStr("DECNET_SWARM_MASTER_HOST"),
    syslogPort: port("DECNET_SWARM_SYSLOG_PORT").pipe(Config.withDefault(6514)),
    swarmctlHost: str("DECNET_SWARMCTL_HOST", "127.0.0.1"),
    swarmctlPort: port("DECNET_SWARMCTL_PORT").pipe(Config.withDefault(8770))
  }),
  artifactsRoot: str("DECNET_ARTIFACTS_ROOT", "/var/lib/decnet/artifacts"),
  honeypot: honeypotSettings,
  /** Set inside a decky container; `decnet decky` falls back on them (flags win). */
  decky: Config.all({
    nodeName: optionalStr("NODE_NAME"),
    hostname: optionalStr("HOSTNAME"),
    instanceId: optionalStr("INSTANCE_ID")
  }),
  logs: Config.all({
    systemLog: str("DECNET_SYSTEM_LOGS", "decnet.system.log"),
    logFile: str("DECNET_LOG_FILE", "/var/log/decnet/decnet.log"),
    ingestLogFile: str("DECNET_INGEST_LOG_FILE", "/var/log/decnet/decnet.log"),
    agentLogFile: str("DECNET_AGENT_LOG_FILE", "/var/log/decnet/agent.log")
  }),
  ingester: Config.all({
    batchSize: positiveInt("DECNET_BATCH_SIZE").pipe(Config.withDefault(100)),
    batchMaxWaitMs: positiveInt("DECNET_BATCH_MAX_WAIT_MS").pipe(Config.withDefault(250))
  }),
  pipeline: pipelineSettings,
  /** The API's tarpit watcher (spec workers §4.4). */
  tarpit: Config.all({
    pollSeconds: positiveSeconds("DECNET_TARPIT_POLL_INTERVAL", 15)
  })
})

export type DecnetSettings = Config.Config.Success<typeof decnetConfig>

/** Variables as a test (or an embedding program) hands them over: a record or key/value pairs. */
export type ConfigEntries = Readonly<Record<string, string>> | Iterable<readonly [string, string]>

const providerOf = (entries: ConfigEntries): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(Symbol.iterator in entries ? entries : Object.entries(entries)))

/** The resolved settings of this process. */
export class DecnetConfig extends Context.Tag("decnet/DecnetConfig")<DecnetConfig, DecnetSettings>() {
  /** Resolve from the ambient ConfigProvider; fails with a ConfigError that names the variable. */
  static readonly layer: Layer.Layer<DecnetConfig, ConfigError.ConfigError> = Layer.effect(
    DecnetConfig,
    decnetConfig
  )

  /** Resolve from these variables alone (tests): no environment, no INI. */
  static readonly fromMap = (entries: ConfigEntries): Layer.Layer<DecnetConfig, ConfigError.ConfigError> =>
    DecnetConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(providerOf(entries))))
}

/**
 * One line for an operator: our InvalidData messages already start with the variable, so the provider's
 * path prefix ("Invalid data at DECNET_X: …") would only repeat it.
 */
export const formatConfigError = (error: ConfigError.ConfigError): string => {
  switch (error._op) {
    case "And":
      return `${formatConfigError(error.left)}; ${formatConfigError(error.right)}`
    case "Or":
      return `${formatConfigError(error.left)} (or: ${formatConfigError(error.right)})`
    default: {
      const key = error.path.join(".")
      return key === "" || error.message.startsWith(key) ? error.message : `${key}: ${error.message}`
    }
  }
}
