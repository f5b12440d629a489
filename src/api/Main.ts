/**
 * `decnet api` as a process, with the startup sequence of spec api §1: the open-file warning, the
 * public-binding and CORS checks, the agent-mode refusal, the JWT secret and admin password checks, the
 * migrations and admin bootstrap (5 tries, 0.5 s apart), stale lifecycle rows marked failed, then the
 * app bus, the worker registry, the API's own heartbeat and the server. Loaded lazily by the command.
 */
import * as NodeFs from "node:fs"
import { SqlClient } from "@effect/sql"
import { Clock, Data, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { AppBus, AppBusFromConfig } from "../bus/AppBus.js"
import { WorkerRegistryLive } from "../bus/Registry.js"
import { EvidenceWriterLive } from "../collector/Writer.js"
import { DecnetConfig, type DecnetSettings } from "../config/DecnetConfig.js"
import { DbLive } from "../db/Client.js"
import { formatUtc } from "../db/Columns.js"
import { MigrationsLive } from "../db/Migrations.js"
import { UserRepo } from "../db/UserRepo.js"
import { FleetStore } from "../fleet/Store.js"
import { optionalBus } from "../fleet/WorkerLayers.js"
import { runTarpitWatcher, TarpitLive } from "../tarpit/index.js"
import { DockerNamespacesLive } from "../tarpit/Namespaces.js"
import { LazyDockerTopology } from "../topology/LazyRuntime.js"
import { OperationOwnerName } from "../topology/Owner.js"
import { InterruptedSweepLive } from "../topology/Recovery.js"
import { JwtSecret } from "./Auth.js"
import { FleetControl } from "./FleetControl.js"
import { HealthProbes, superviseTask } from "./Health.js"
import { ApiDataLive, type ApiServeOptions, ApiServerLive } from "./Server.js"

export class ApiStartupError extends Data.TaggedError("ApiStartupError")<{ readonly message: string }> {}

const WEAK = new Set(["fallback-secret-key-change-me", "admin", "secret", "password", "changeme"])
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1"])

/** DECNET_CORS_ORIGINS as a list; a wildcard is refused (§1 step 3). */
export const corsOrigins = (
  config: DecnetSettings
): Effect.Effect<ReadonlyArray<string>, ApiStartupError> => {
  const list = Option.match(config.web.corsOrigins, {
    onNone: (): ReadonlyArray<string> => [],
    onSome: (raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
  })
  return list.includes("*")
    ? Effect.fail(
        new ApiStartupError({
          message: "DECNET_CORS_ORIGINS must not contain a wildcard '*' — list explicit origin URLs"
        })
      )
    : Effect.succeed(list)
}

/** A secret of the API: missing, a known default, or too short is a startup error naming the variable. */
const strongSecret = (
  config: DecnetSettings,
  name: string,
  value: Option.Option<Redacted.Redacted<string>>,
  minLength: number
): Effect.Effect<Redacted.Redacted<string>, ApiStartupError> => {
  if (Option.isNone(value) || Redacted.value(value.value) === "")
    return Effect.fail(new ApiStartupError({ message: `${name} is not set (required by the API)` }))
  const text = Redacted.value(value.value)
  if (!config.testing) {
    if (WEAK.has(text.toLowerCase()))
      return Effect.fail(new ApiStartupError({ message: `${name} is a well-known default; choose another` }))
    if (!config.developer && text.length < minLength)
      return Effect.fail(new ApiStartupError({ message: `${name} must be at least ${minLength} characters` }))
  }
  return Effect.succeed(value.value)
}

export const jwtSecretFrom = (config: DecnetSettings) =>
  strongSecret(config, "DECNET_JWT_SECRET", config.jwt.secret, 32)
export const adminPasswordFrom = (config: DecnetSettings) =>
  strongSecret(config, "DECNET_ADMIN_PASSWORD", config.admin.password, 12)

/** validate_public_binding (logging-and-config §3): only for a non-loopback host, never under testing. */
export const validatePublicBinding = (config: DecnetSettings, host: string, origins: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (config.testing || LOOPBACK_HOSTS.has(host)) return
    for (const origin of origins) {
      const originHost = Option.liftThrowable(() => new URL(origin).hostname)()
      if (Option.isSome(originHost) && (LOOPBACK_HOSTS.has(originHost.value) || originHost.value === "[::1]"))
        return yield* new ApiStartupError({
          message: `DECNET_CORS_ORIGINS lists a loopback origin (${origin}) while the API binds the public address ${host}`
        })
    }
    if (!config.api.limiterEnabled)
      yield* Effect.logError(
        `the API binds ${host} with DECNET_LIMITER_ENABLED=false: login is not rate limited`
      )
  })

/** Warn when the soft open-file limit is below 4096 (§1 step 1): 1,500 connections need descriptors. */
export const checkOpenFiles = Effect.gen(function* () {
  const limits = yield* Effect.sync(() =>
    Option.liftThrowable(() => NodeFs.readFileSync("/proc/self/limits", "utf8"))()
  )
  if (Option.isNone(limits)) return
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits.value)?.[1]
  if (soft !== undefined && soft !== "unlimited" && Number(soft) < 4096)
    yield* Effect.logWarning(
      `the soft open-file limit is ${soft}; raise it to 4096 or more (ulimit -n) for many clients`
    )
})

/** Migrations have run; create or re-sync the bootstrap admin (5 tries, 0.5 s apart, then carry on). */
export const bootstrapAdmin = (username: string, password: Redacted.Redacted<string>) =>
  Effect.flatMap(UserRepo, (users) => users.ensureAdmin(username, password)).pipe(
    Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 4 }),
    Effect.catchAllCause((cause) => Effect.logError("admin bootstrap failed after 5 attempts", cause))
  )

/** §1 step 7: deploy/mutate rows left pending or running by a previous master for over an hour fail. */
export const failStaleLifecycle = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const now = yield* Clock.currentTimeMillis
  const hourAgo = formatUtc(new Date(now - 3_600_000))
  yield* sql`UPDATE ${sql("decky_lifecycle")} SET ${sql.update({
    status: "failed",
    error: "master restarted during operation",
    updated_at: formatUtc(new Date(now)),
    completed_at: formatUtc(new Date(now))
  })} WHERE ${sql("status")} IN ('pending', 'running') AND ${sql("started_at")} < ${hourAgo}`
}).pipe(Effect.catchAllCause((cause) => Effect.logWarning("could not fail stale lifecycle rows", cause)))

/** The API's own heartbeat on the app bus, `system.api.health`, now and every 30 s. */
export const apiHeartbeat = Effect.gen(function* () {
  const appBus = yield* AppBus
  const beat = Effect.gen(function* () {
    const ts = (yield* Clock.currentTimeMillis) / 1000
    yield* appBus.publish("system.api.health", { worker: "api", ts }, "health")
  })
  yield* beat.pipe(Effect.repeat(Schedule.spaced("30 seconds")), Effect.forkScoped)
})

export interface ApiMainOptions {
  readonly host?: string | undefined
  readonly port?: number | undefined
}

/** `decnet api`: the startup sequence, then serve until interrupted. */
export const runApiMain = (options: ApiMainOptions) =>
  Effect.gen(function* () {
    const config = yield* DecnetConfig
    const host = options.host ?? config.api.host
    const port = options.port ?? config.api.port
    yield* checkOpenFiles
    const origins = yield* corsOrigins(config)
    yield* validatePublicBinding(config, host, origins)
    if (config.mode === "agent" && config.disallowMaster)
      return yield* new ApiStartupError({
        message:
          "this host is an agent (DECNET_MODE=agent) and DECNET_DISALLOW_MASTER is true: the master API does not run here"
      })
    const secret = yield* jwtSecretFrom(config)
    const adminPassword = yield* adminPasswordFrom(config)

    const data = Layer.mergeAll(FleetStore.Default, MigrationsLive).pipe(
      Layer.provideMerge(ApiDataLive),
      Layer.provideMerge(DbLive)
    )
    const bus = WorkerRegistryLive.pipe(Layer.provideMerge(AppBusFromConfig({ clientName: "api" })))
    // Deploys and mutations on Docker (or recorded for a `decnet up` that runs an in-process fleet); their
    // `decky_mutated` lines go where the ingester reads.
    const fleet = FleetControl.standalone.pipe(
      Layer.provide(Layer.merge(EvidenceWriterLive(config.logs.ingestLogFile), optionalBus("api")))
    )
    const docker = yield* dockerPing
    const server = ApiProcessLive({
      serve: { host, port, corsOrigins: origins, developer: config.developer, docs: config.api.docs },
      secret,
      admin: Option.some({ username: config.admin.user, password: adminPassword })
    }).pipe(
      Layer.provide(HealthProbes.make(docker)),
      Layer.provide(fleet),
      // The tarpit finds deckies' containers on the engine, connected on the first tarpit call.
      Layer.provide(DockerNamespacesLive),
      // Deploys and teardowns a stopped process left unfinished on this host: resumed at start, then once a
      // minute (src/topology/Recovery.ts); this process's own are recorded as `decnet api`'s.
      Layer.provide(InterruptedSweepLive("decnet api")),
      Layer.provide(Layer.succeed(OperationOwnerName, "decnet api")),
      // Topology deploys on Docker, loaded when the first one runs.
      Layer.provide(LazyDockerTopology),
      Layer.provideMerge(bus),
      Layer.provideMerge(data)
    )
    return yield* Layer.launch(server)
  })

export interface ApiProcessOptions {
  readonly serve: ApiServeOptions
  readonly secret: Redacted.Redacted<string>
  /** The bootstrap admin to create or re-sync (§4.8); none: leave the users as they are. */
  readonly admin: Option.Option<{ readonly username: string; readonly password: Redacted.Redacted<string> }>
}

/**
 * The API of one process over the caller's database (migrated, with the repositories) and app bus: the
 * bootstrap admin, stale lifecycle rows, the heartbeat, the tarpit watcher (not in contract-test mode, spec
 * §1 step 9), then the server (`decnet api`, `decnet up`, tests). The caller provides HealthProbes (what this
 * process runs in the background and whether it needs Docker) and DeckyNamespaces (where the tarpit finds a
 * decky's network).
 */
export const ApiProcessLive = (options: ApiProcessOptions) => {
  const startup = Layer.scopedDiscard(
    Effect.gen(function* () {
      if (Option.isSome(options.admin))
        yield* bootstrapAdmin(options.admin.value.username, options.admin.value.password)
      yield* failStaleLifecycle
      yield* apiHeartbeat
      const config = yield* DecnetConfig
      if (!config.api.contractTest) yield* superviseTask("tarpit", runTarpitWatcher)
    })
  )
  return ApiServerLive(options.serve).pipe(
    Layer.provide(startup),
    Layer.provide(Layer.succeed(JwtSecret, options.secret)),
    // One Tarpit for both route groups and the watcher.
    Layer.provide(TarpitLive)
  )
}

/** The Docker ping of `/health` (the engine the fleet runs on); loaded on first use. */
const dockerPing = Effect.gen(function* () {
  const config = yield* DecnetConfig
  const { DockerLive } = yield* Effect.promise(() => import("../docker/DockerLive.js"))
  const { Docker } = yield* Effect.promise(() => import("../docker/Docker.js"))
  const ping = Effect.flatMap(Docker, (d) => d.ping).pipe(
    Effect.provide(DockerLive),
    Effect.provideService(DecnetConfig, config),
    Effect.as(true),
    Effect.catchAllCause(() => Effect.succeed(false))
  )
  return Option.some(ping)
})
