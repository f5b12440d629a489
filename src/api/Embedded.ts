/**
 * The API inside `decnet up` (the embedded default), on DECNET_API_HOST:DECNET_API_PORT (127.0.0.1:8000),
 * over up's own database and bus. It runs with zero configuration:
 * - the signing key is DECNET_JWT_SECRET, or one generated on first start and kept in
 *   `~/.decnet/api-jwt.secret` (mode 0600), so tokens survive a restart;
 * - the bootstrap admin's password is DECNET_ADMIN_PASSWORD, or one generated when the admin does not
 *   exist yet, returned here to be printed once; it must be changed at the first login (§4.8).
 * A failure to serve (the port is taken) is an `EmbeddedApiFailure` with the reason (and a generated
 * password, which must still be told): the caller warns and keeps the honeypots running.
 */
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import { join } from "node:path"
import { HttpServer } from "@effect/platform"
import { Cause, Effect, Layer, Option, Redacted, type Scope } from "effect"
import { AppBus, makeAppBus } from "../bus/AppBus.js"
import { Bus } from "../bus/Bus.js"
import { WorkerRegistryLive } from "../bus/Registry.js"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { UserRepo } from "../db/UserRepo.js"
import { LOOPBACK_LAN } from "../fleet/Fleet.js"
import { DockerNamespacesLive } from "../tarpit/Namespaces.js"
import { LazyDockerTopology } from "../topology/LazyRuntime.js"
import { TopologyRuntime } from "../topology/Runtime.js"
import { FleetControl } from "./FleetControl.js"
import { ApiProcessLive, bootstrapAdmin, corsOrigins } from "./Main.js"
import { ApiDataLive } from "./Server.js"

export interface EmbeddedApi {
  readonly url: string
  readonly admin: string
  /** The generated bootstrap password, on the start that created the admin only. */
  readonly password: Option.Option<string>
}

export interface EmbeddedApiFailure {
  readonly admin: string
  readonly password: Option.Option<string>
  readonly reason: string
}

/** The key file of the embedded API: read, or created with 48 random bytes. */
const embeddedSecret = (home: string) =>
  Effect.try({
    try: () => {
      const dir = join(home, ".decnet")
      const file = join(dir, "api-jwt.secret")
      if (NodeFs.existsSync(file)) {
        const text = NodeFs.readFileSync(file, "utf8").trim()
        if (text.length >= 32) return text
      }
      NodeFs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      const fresh = randomBytes(48).toString("base64url")
      NodeFs.writeFileSync(file, `${fresh}\n`, { mode: 0o600 })
      return fresh
    },
    catch: (cause) => `cannot keep the API key in ${join(home, ".decnet")}: ${String(cause)}`
  })

/**
 * Serve the API in this scope. Needs up's database (SqlClient, Dialect), bus and in-process fleet
 * (FleetStore, DeckyRuntime, EvidenceWriter); provides its own app bus over that bus, the worker
 * registry, the repositories, and FleetControl over up's runtime. Success: where it listens; failure: why not.
 */
export const serveEmbeddedApi = Effect.gen(function* () {
  const config = yield* DecnetConfig
  const users = yield* Effect.provide(UserRepo, UserRepo.Default)
  const secret = Option.isSome(config.jwt.secret)
    ? config.jwt.secret.value
    : Redacted.make(
        yield* embeddedSecret(config.system.home).pipe(
          Effect.mapError((reason) => ({ admin: config.admin.user, password: Option.none<string>(), reason }))
        )
      )
  const origins = yield* corsOrigins(config).pipe(
    Effect.mapError((e) => ({ admin: config.admin.user, password: Option.none<string>(), reason: e.message }))
  )
  const username = config.admin.user
  const existing = yield* users.getByUsername(username)
  let generated: Option.Option<string> = Option.none()
  // The admin is bootstrapped here, before the server binds: a generated password is then always told.
  if (Option.isSome(config.admin.password))
    yield* bootstrapAdmin(username, config.admin.password.value).pipe(Effect.provideService(UserRepo, users))
  else if (Option.isNone(existing)) {
    const password = randomBytes(18).toString("base64url")
    generated = Option.some(password)
    yield* bootstrapAdmin(username, Redacted.make(password)).pipe(Effect.provideService(UserRepo, users))
  }
  const told = { admin: username, password: generated }
  const bus = yield* Bus
  // Topologies deploy on up's own runtime when it runs one (in-process), else on Docker, loaded on first use.
  const topologies = Option.match(yield* Effect.serviceOption(TopologyRuntime), {
    onNone: () => LazyDockerTopology,
    onSome: (runtime) => Layer.succeed(TopologyRuntime, runtime)
  })
  const appBus = Layer.scoped(AppBus, makeAppBus(Effect.succeed(bus)))
  const layer = ApiProcessLive({
    serve: {
      host: config.api.host,
      port: config.api.port,
      corsOrigins: origins,
      developer: config.developer,
      docs: config.api.docs
    },
    secret,
    admin: Option.none()
  }).pipe(
    Layer.provide(WorkerRegistryLive),
    Layer.provide(appBus),
    Layer.provide(FleetControl.inProcess(LOOPBACK_LAN)),
    Layer.provide(topologies),
    Layer.provide(DockerNamespacesLive),
    Layer.provideMerge(ApiDataLive)
  )
  const context = yield* Layer.build(layer).pipe(
    Effect.catchAllCause((cause) =>
      Effect.fail({
        ...told,
        reason: `the API could not start on ${config.api.host}:${config.api.port}: ${Cause.pretty(cause).split("\n")[0]}`
      })
    )
  )
  const address = yield* Effect.provide(HttpServer.HttpServer, context).pipe(Effect.map((s) => s.address))
  const url =
    address._tag === "TcpAddress"
      ? `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
      : `unix:${address.path}`
  return { url, ...told } satisfies EmbeddedApi
})

export type ServeEmbeddedApi = Effect.Effect.Context<typeof serveEmbeddedApi> | Scope.Scope
