// `decnet ingest`: the ingester worker (spec workers §4.3) as its own process. Tails the collector's `.json`
// evidence file into the database (logs, credentials, bounties), exactly once across crashes, and tells the
// bus. The database and bus code load inside the handler, so `decnet --help` stays fast.
import { Command, Options } from "@effect/cli"
import { Effect, Layer, Logger, Option } from "effect"
import { DecnetLogger } from "../logging/DecnetLogger.js"

const logFile = Options.text("log-file").pipe(
  Options.optional,
  Options.withDescription(
    "the evidence file; its .json twin is read (default: $DECNET_INGEST_LOG_FILE, /var/log/decnet/decnet.log)"
  )
)

export const ingest = Command.make("ingest", { logFile }, ({ logFile }) =>
  Effect.gen(function* () {
    const { runIngesterMain } = yield* Effect.promise(() => import("../ingester/Main.js"))
    yield* runIngesterMain(Option.getOrUndefined(logFile))
  }).pipe(
    Effect.provide(Layer.merge(DecnetLogger.named("ingester"), Logger.remove(Logger.prettyLoggerDefault)))
  )
).pipe(
  Command.withDescription(
    "store the collector's evidence records in the database (logs, credentials, bounties)"
  )
)
