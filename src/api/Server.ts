/**
 * The API server as layers: the contract's handlers, the auth middlewares, the envelope, the docs, and a
 * node HTTP server that also serves the web dashboard at `/` (WebAssets.ts). `ApiServerLive` serves; it needs the database, the bus pieces and the API secrets
 * from its caller (`decnet api` in Main.ts, `decnet up`, the tests).
 */
import { EventEmitter } from "node:events"
import { createServer, IncomingMessage, ServerResponse } from "node:http"
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { EvidenceRepo } from "../db/EvidenceRepo.js"
import { FleetRepo } from "../db/FleetRepo.js"
import { LifecycleRepo } from "../db/LifecycleRepo.js"
import { LogRepo } from "../db/LogRepo.js"
import { PasswordHasher } from "../db/Passwords.js"
import { StateRepo } from "../db/StateRepo.js"
import { TarpitRepo } from "../db/TarpitRepo.js"
import { UserRepo } from "../db/UserRepo.js"
import { TopologyRepo } from "../topology/TopologyRepo.js"
import { ApiAuth, type Gate } from "./Auth.js"
import { DecnetApi } from "./Contract.js"
import { EdgeCache, serveFromEdge } from "./EdgeCache.js"
import { envelope, routesOf } from "./Envelope.js"
import { loadWebAssets, serveWeb, type WebAssets } from "./WebAssets.js"
import { AuthHandlers } from "./handlers/Auth.js"
import { CatalogHandlers } from "./handlers/Catalog.js"
import { ConfigHandlers } from "./handlers/Config.js"
import { DeckyServicesHandlers } from "./handlers/DeckyServices.js"
import { EvidenceHandlers } from "./handlers/Evidence.js"
import { FilesHandlers } from "./handlers/Files.js"
import { DeckiesCache, FleetHandlers } from "./handlers/Fleet.js"
import { HealthHandlers } from "./handlers/Health.js"
import { LogsHandlers } from "./handlers/Logs.js"
import { TopologiesHandlers } from "./handlers/Topologies.js"
import { WorkersHandlers } from "./handlers/Workers.js"
import { Admin, AnyUser, StreamViewer, Viewer } from "./Security.js"

const bearerGate = (gate: Gate) =>
  Effect.map(ApiAuth, (auth) => ({
    bearer: (token: Redacted.Redacted<string>) => auth.authenticate(Redacted.value(token), gate)
  }))

const SecurityLive = Layer.mergeAll(
  Layer.effect(AnyUser, bearerGate("any")),
  Layer.effect(Viewer, bearerGate("viewer")),
  Layer.effect(Admin, bearerGate("admin")),
  Layer.effect(
    StreamViewer,
    Effect.map(ApiAuth, (auth) => ({
      // Both schemes read the request themselves: a bearer header wins, else the ticket (§5.2).
      bearer: () => auth.authenticateStream("viewer"),
      ticket: () => auth.authenticateStream("viewer")
    }))
  )
)

const HandlersLive = Layer.mergeAll(
  AuthHandlers,
  LogsHandlers,
  EvidenceHandlers,
  HealthHandlers,
  ConfigHandlers,
  WorkersHandlers,
  FleetHandlers,
  CatalogHandlers,
  DeckyServicesHandlers,
  FilesHandlers,
  TopologiesHandlers
)

/** The repositories the handlers read, over the caller's SqlClient. */
export const ApiDataLive = Layer.mergeAll(
  LifecycleRepo.Default,
  LogRepo.Default,
  FleetRepo.Default,
  EvidenceRepo.Default,
  StateRepo.Default,
  TarpitRepo.Default,
  TopologyRepo.Default,
  // bcrypt on worker threads: a burst of logins must not stall the other requests (spec §4.1).
  UserRepo.Default.pipe(Layer.provide(PasswordHasher.workers()))
)

/** The implemented contract (handlers + middlewares), before it is served. */
export const ApiLive = HttpApiBuilder.api(DecnetApi).pipe(
  Layer.provide(HandlersLive),
  Layer.provide(DeckiesCache.Default),
  Layer.provide(SecurityLive)
)

/**
 * node's server with the edge cache in front (EdgeCache.ts): a request it answers never reaches the
 * Effect app's listener. A boundary adapter: node:http dispatches through `emit("request", …)`.
 */
const edgeServer = (edge: EdgeCache, auth: ApiAuth, web: WebAssets) => {
  const server = createServer()
  const recent = (token: string, now: number) => auth.authenticateRecent(token, "viewer", now)
  server.emit = (event: string | symbol, ...args: Array<unknown>): boolean => {
    const [req, res] = args
    if (
      event === "request" &&
      req instanceof IncomingMessage &&
      res instanceof ServerResponse &&
      (serveFromEdge(edge, recent, req, res) || serveWeb(web, req, res))
    )
      return true
    return EventEmitter.prototype.emit.call(server, event, ...args)
  }
  return server
}

export interface ApiServeOptions {
  readonly host: string
  readonly port: number
  readonly corsOrigins: ReadonlyArray<string>
  readonly developer: boolean
  /** `/docs` and `/openapi.json` (DECNET_API_DOCS). */
  readonly docs: boolean
}

/** The listen backlog of the API's socket. */
export const LISTEN_BACKLOG = 4096

/** Every route of the contract as (method, path): the envelope's 405 and the tests' enumeration. */
export const API_ROUTES = routesOf(DecnetApi)

/** Serve the API on `host:port` (port 0: any free port; HttpServer.addressWith tells which). */
export const ApiServerLive = (options: ApiServeOptions) => {
  const docs = options.docs
    ? Layer.mergeAll(
        HttpApiSwagger.layer({ path: "/docs" }),
        HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })
      )
    : Layer.empty
  const node = Layer.unwrapEffect(
    Effect.map(Effect.all([EdgeCache, ApiAuth, loadWebAssets]), ([edge, auth, web]) =>
      NodeHttpServer.layer(() => edgeServer(edge, auth, web), {
        host: options.host,
        port: options.port,
        // A burst of new connections (1,500 at once in bench/api.ts) overflowed node's default 511 and
        // the kernel dropped handshakes (nstat ListenOverflows); the kernel caps it at net.core.somaxconn.
        backlog: LISTEN_BACKLOG
      })
    )
  )
  return HttpApiBuilder.serve().pipe(
    Layer.provide(docs),
    Layer.provide(envelope(API_ROUTES, { corsOrigins: options.corsOrigins, developer: options.developer })),
    Layer.provide(ApiLive),
    HttpServer.withLogAddress,
    // Merged, not only provided: the caller can read the bound address (port 0 in tests).
    Layer.provideMerge(node),
    // One ApiAuth and one edge cache for the handlers, the envelope and the node server.
    Layer.provide(Layer.merge(ApiAuth.Default, EdgeCache.Default))
  )
}
