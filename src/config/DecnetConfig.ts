/**
 * Typed DECNET settings, read only through effect `Config` (so any ConfigProvider works: env+INI in
 * production, `ConfigProvider.fromMap` in tests). A bad value fails with a ConfigError naming the key.
 */
import { Config, ConfigError, Context, Either, Layer, Option, type Redacted } from "effect"

/** Booleans as the Python original read them: case-insensitive literal `true` is on. */
const flag = (name: string, fallback: boolean): Config.Config<boolean> =>
  Config.string(name).pipe(
    Config.map((v) => v.trim().toLowerCase() === "true"),
    Config.withDefault(fallback)
  )

/** "Enabled" switches where only the literal `false` turns the feature off. */
const enabledUnlessFalse = (name: string): Config.Config<boolean> =>
  Config.string(name).pipe(
    Config.map((v) => v.trim().toLowerCase() !== "false"),
    Config.withDefault(true)
  )

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

const optionalStr = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((s) => s.trim() !== "")))

const optionalSecret = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(name))

export type Mode = "master" | "agent"
export type DbType = "sqlite" | "mysql"
export type BusType = "unix" | "nats" | "fake"

/**
 * The bus keys, also read on their own by the bus layer (so a bad unrelated key cannot take the bus down).
 * A NATS URL may carry credentials (`nats://user:pass@host`), so it is Redacted.
 */
export const busSettings = Config.all({
  enabled: enabledUnlessFalse("DECNET_BUS_ENABLED"),
  type: oneOf("DECNET_BUS_TYPE", ["unix", "nats", "fake"] as const).pipe(Config.withDefault<BusType>("unix")),
  /** Raw override only; the bus module resolves the default socket location. */
  socket: optionalStr("DECNET_BUS_SOCKET"),
  url: Config.option(Config.redacted("DECNET_BUS_URL")),
  group: str("DECNET_BUS_GROUP", "decnet")
})

export const decnetConfig = Config.all({
  mode: oneOf("DECNET_MODE", ["master", "agent"] as const).pipe(Config.withDefault<Mode>("master")),
  disallowMaster: enabledUnlessFalse("DECNET_DISALLOW_MASTER"),
  developer: flag("DECNET_DEVELOPER", false),
  developerTracing: flag("DECNET_DEVELOPER_TRACING", false),
  otelEndpoint: str("DECNET_OTEL_ENDPOINT", "http://localhost:4318"),
  api: Config.all({
    host: str("DECNET_API_HOST", "127.0.0.1"),
    port: port("DECNET_API_PORT").pipe(Config.withDefault(8000))
  }),
  web: Config.all({
    host: str("DECNET_WEB_HOST", "127.0.0.1"),
    port: port("DECNET_WEB_PORT").pipe(Config.withDefault(8080)),
    corsOrigins: optionalStr("DECNET_CORS_ORIGINS")
  }),
  admin: Config.all({
    user: str("DECNET_ADMIN_USER", "admin"),
    password: optionalSecret("DECNET_ADMIN_PASSWORD")
  }),
  jwt: Config.all({
    secret: optionalSecret("DECNET_JWT_SECRET"),
    expMinutes: positiveInt("DECNET_JWT_EXP_MINUTES").pipe(Config.withDefault(240))
  }),
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
  bus: busSettings,
  swarm: Config.all({
    masterHost: optionalStr("DECNET_SWARM_MASTER_HOST"),
    syslogPort: port("DECNET_SWARM_SYSLOG_PORT").pipe(Config.withDefault(6514)),
    swarmctlHost: str("DECNET_SWARMCTL_HOST", "127.0.0.1"),
    swarmctlPort: port("DECNET_SWARMCTL_PORT").pipe(Config.withDefault(8770))
  }),
  artifactsRoot: str("DECNET_ARTIFACTS_ROOT", "/var/lib/decnet/artifacts"),
  logs: Config.all({
    systemLog: str("DECNET_SYSTEM_LOGS", "decnet.system.log"),
    logFile: str("DECNET_LOG_FILE", "/var/log/decnet/decnet.log"),
    ingestLogFile: str("DECNET_INGEST_LOG_FILE", "/var/log/decnet/decnet.log"),
    agentLogFile: str("DECNET_AGENT_LOG_FILE", "/var/log/decnet/agent.log")
  }),
  ingester: Config.all({
    batchSize: positiveInt("DECNET_BATCH_SIZE").pipe(Config.withDefault(100)),
    batchMaxWaitMs: positiveInt("DECNET_BATCH_MAX_WAIT_MS").pipe(Config.withDefault(250))
  })
})

export type DecnetSettings = Config.Config.Success<typeof decnetConfig>

/** The resolved settings of this process. */
export class DecnetConfig extends Context.Tag("decnet/DecnetConfig")<DecnetConfig, DecnetSettings>() {
  /** Resolve from the ambient ConfigProvider; fails with a ConfigError that names the variable. */
  static readonly layer: Layer.Layer<DecnetConfig, ConfigError.ConfigError> = Layer.effect(
    DecnetConfig,
    decnetConfig
  )
}
