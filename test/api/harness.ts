// A real API server for one describe block: the process layer of `decnet api` over a test backend
// (SQLite file or a scratch MariaDB database), on 127.0.0.1 with a free port, a disabled app bus, and
// typed clients derived from the contract. bcrypt cost 4 keeps logins quick (production: 12).

import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Option, Redacted } from "effect"
import { afterAll, beforeAll } from "vitest"
import { DecnetApi } from "../../src/api/Contract.js"
import { FleetControl } from "../../src/api/FleetControl.js"
import { HealthProbes } from "../../src/api/Health.js"
import { ApiProcessLive } from "../../src/api/Main.js"
import { ApiDataLive } from "../../src/api/Server.js"
import { AppBus, disabledAppBus, makeAppBus } from "../../src/bus/AppBus.js"
import { Bus } from "../../src/bus/Bus.js"
import { FakeBusLive } from "../../src/bus/FakeBus.js"
import { NullBusLive } from "../../src/bus/NullBus.js"
import { WorkerRegistry, WorkerRegistryLive } from "../../src/bus/Registry.js"
import { CollectorLive } from "../../src/collector/Collector.js"
import { InProcessSinkLive } from "../../src/collector/InProcessSink.js"
import { EvidenceWriterLive } from "../../src/collector/Writer.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { MigrationsLive } from "../../src/db/Migrations.js"
import { LOOPBACK_LAN } from "../../src/fleet/Fleet.js"
import { InProcessRuntime } from "../../src/fleet/InProcess.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { type DeckyNamespaces, DockerNamespacesLive } from "../../src/tarpit/Namespaces.js"
import type { TopologyRuntime } from "../../src/topology/Runtime.js"
import type { Backend } from "../db/backends.js"
import { makeFakeTopologyRuntime } from "./topologyFake.js"

export const JWT_SECRET = "test-secret-0123456789abcdef0123456789"
export const ADMIN = { username: "admin", password: "admin-password-1" } as const

export interface ApiOptions {
  /** An in-process bus (FakeBus) for the fleet and the app bus, instead of none. */
  readonly bus?: "fake" | "none"
  /** The topology runtime behind deploy/teardown/reap (default: a recording fake that runs nothing). */
  readonly topologyRuntime?: Layer.Layer<TopologyRuntime>
  /** Where the tarpit finds a decky's network namespace (default: the Docker engine, as `decnet api`). */
  readonly namespaces?: Layer.Layer<DeckyNamespaces>
}

const serverLayer = (backend: Backend, env: Record<string, string>, options: ApiOptions = {}) => {
  const bus = options.bus === "fake" ? FakeBusLive() : NullBusLive
  const appBus =
    options.bus === "fake"
      ? Layer.scoped(
          AppBus,
          Effect.flatMap(Bus, (b) => makeAppBus(Effect.succeed(b)))
        )
      : Layer.succeed(AppBus, disabledAppBus)
  const registry = options.bus === "fake" ? WorkerRegistryLive : WorkerRegistry.Default
  const config = DecnetConfig.fromMap({
    DECNET_BCRYPT_ROUNDS: "4",
    DECNET_TESTING: "true",
    DECNET_BUS_ENABLED: "false",
    ...env
  })
  const data = Layer.mergeAll(FleetStore.Default, MigrationsLive).pipe(
    Layer.provideMerge(ApiDataLive),
    Layer.provideMerge(backend.layer)
  )
  // A real in-process fleet behind the fleet routes, as in `decnet up` (no root: ports offset by 10000).
  const evidence = join(mkdtempSync(join(tmpdir(), "decnet-api-")), "decnet.log")
  const fleet = FleetControl.inProcess(LOOPBACK_LAN).pipe(
    Layer.provideMerge(InProcessRuntime({ privileged: false })),
    Layer.provideMerge(InProcessSinkLive),
    Layer.provideMerge(CollectorLive),
    Layer.provideMerge(EvidenceWriterLive(evidence)),
    Layer.provideMerge(bus)
  )
  return ApiProcessLive({
    serve: {
      host: "127.0.0.1",
      port: 0,
      corsOrigins: ["http://dashboard.test"],
      developer: false,
      docs: true
    },
    secret: Redacted.make(JWT_SECRET),
    admin: Option.some({ username: ADMIN.username, password: Redacted.make(ADMIN.password) })
  }).pipe(
    Layer.provide(HealthProbes.make(Option.none())),
    Layer.provide(fleet),
    Layer.provide(options.topologyRuntime ?? makeFakeTopologyRuntime().layer),
    Layer.provide(options.namespaces ?? DockerNamespacesLive),
    Layer.provide(registry),
    Layer.provideMerge(appBus.pipe(Layer.provideMerge(bus))),
    Layer.provideMerge(data),
    Layer.provideMerge(config),
    Layer.provideMerge(NodeContext.layer)
  )
}

type ServerLayer = ReturnType<typeof serverLayer>

export interface ApiHarness {
  readonly baseUrl: string
  /** The server's own services (repositories, SqlClient, config): to seed rows in tests. */
  readonly runtime: ManagedRuntime.ManagedRuntime<
    Layer.Layer.Success<ServerLayer>,
    Layer.Layer.Error<ServerLayer>
  >
}

/** Start the API for this describe block; the getter returns it once `beforeAll` ran. */
export const useApi = (backend: Backend, env: Record<string, string> = {}, options: ApiOptions = {}) => {
  let harness: ApiHarness | undefined
  beforeAll(async () => {
    const runtime = ManagedRuntime.make(serverLayer(backend, env, options))
    const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
    if (address._tag !== "TcpAddress") throw new Error("the API did not bind a TCP port")
    harness = { baseUrl: `http://127.0.0.1:${address.port}`, runtime }
  })
  afterAll(async () => {
    await harness?.runtime.dispose()
  })
  return (): ApiHarness => {
    if (harness === undefined) throw new Error("the API is not started yet")
    return harness
  }
}

/** A typed client of the contract, with this bearer token (or none). */
export const client = (baseUrl: string, token?: string) =>
  HttpApiClient.make(DecnetApi, {
    baseUrl,
    transformClient:
      token === undefined ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })

/** Run an effect needing a client of the contract. */
export const call = <A, E>(
  baseUrl: string,
  token: string | undefined,
  f: (c: Effect.Effect.Success<ReturnType<typeof client>>) => Effect.Effect<A, E>
): Promise<A> =>
  Effect.runPromise(Effect.flatMap(client(baseUrl, token), f).pipe(Effect.provide(FetchHttpClient.layer)))

/** `call`, but the failure is the result (to assert on error bodies and statuses). */
export const callFlip = <A, E>(
  baseUrl: string,
  token: string | undefined,
  f: (c: Effect.Effect.Success<ReturnType<typeof client>>) => Effect.Effect<A, E>
): Promise<E> =>
  Effect.runPromise(
    Effect.flatMap(client(baseUrl, token), (c) => Effect.flip(f(c))).pipe(
      Effect.provide(FetchHttpClient.layer)
    )
  )

/** A raw request: status, headers and body text. */
export const raw = async (
  baseUrl: string,
  path: string,
  init: RequestInit & { token?: string } = {}
): Promise<{ status: number; headers: Headers; body: string; json: () => unknown }> => {
  const headers = new Headers(init.headers)
  if (init.token !== undefined) headers.set("authorization", `Bearer ${init.token}`)
  const res = await fetch(`${baseUrl}${path}`, { ...init, headers })
  const body = await res.text()
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body) }
}

/** Log in through the API; the token. */
export const login = async (baseUrl: string, username: string, password: string) => {
  const r = await raw(baseUrl, "/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password })
  })
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.body}`)
  const body = r.json()
  if (
    typeof body !== "object" ||
    body === null ||
    !("access_token" in body) ||
    typeof body.access_token !== "string"
  )
    throw new Error(`login ${username}: no token in ${r.body}`)
  return body.access_token
}

/** The admin's token after the forced password change; `password` is the admin's new password. */
export const adminToken = async (baseUrl: string, password = "admin-password-2") => {
  const first = await login(baseUrl, ADMIN.username, ADMIN.password).catch(() => undefined)
  if (first !== undefined) {
    const r = await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token: first,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ old_password: ADMIN.password, new_password: password })
    })
    if (r.status !== 200) throw new Error(`change-password: ${r.status} ${r.body}`)
  }
  return login(baseUrl, ADMIN.username, password)
}
