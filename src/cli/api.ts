// `decnet api`: the master HTTP API (spec api §1) under /api/v1, with /docs and /openapi.json. The server
// code loads inside the handler, so `decnet --help` stays fast.
import { Command, Options } from "@effect/cli"
import { Effect, Layer, Logger, Option } from "effect"
import { DecnetLogger } from "../logging/DecnetLogger.js"

const host = Options.text("host").pipe(
  Options.optional,
  Options.withDescription("address to bind (default: $DECNET_API_HOST, 127.0.0.1)")
)
const port = Options.integer("port").pipe(
  Options.optional,
  Options.withDescription("port to bind (default: $DECNET_API_PORT, 8000)")
)

export const api = Command.make("api", { host, port }, ({ host, port }) =>
  Effect.gen(function* () {
    const { runApiMain } = yield* Effect.promise(() => import("../api/Main.js"))
    yield* runApiMain({ host: Option.getOrUndefined(host), port: Option.getOrUndefined(port) })
  }).pipe(Effect.provide(Layer.merge(DecnetLogger.named("api"), Logger.remove(Logger.prettyLoggerDefault))))
).pipe(Command.withDescription("serve the master HTTP API (JWT auth, SSE, the fleet) under /api/v1"))
