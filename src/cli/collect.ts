// `decnet collect`: the collector worker (spec workers §4.5). Follows the stdout of every decky container
// into the evidence files (`<log-file>` raw, `.json` parsed) and the bus. The collector and dockerode load
// inside the handler, so `decnet --help` stays fast.
import { Command, Options } from "@effect/cli"
import { Effect, Layer, Logger, Option } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { DecnetLogger } from "../logging/DecnetLogger.js"

const logFile = Options.text("log-file").pipe(
  Options.optional,
  Options.withDescription(
    "raw RFC 5424 lines go here, parsed records beside it as .json (default: $DECNET_INGEST_LOG_FILE, /var/log/decnet/decnet.log)"
  )
)

export const collect = Command.make("collect", { logFile }, ({ logFile }) =>
  Effect.gen(function* () {
    const { logs } = yield* DecnetConfig
    const { runCollectorMain } = yield* Effect.promise(() => import("../collector/Main.js"))
    yield* runCollectorMain({ logFile: Option.getOrElse(logFile, () => logs.ingestLogFile) })
  }).pipe(
    Effect.provide(Layer.merge(DecnetLogger.named("collector"), Logger.remove(Logger.prettyLoggerDefault)))
  )
).pipe(Command.withDescription("collect decky container logs into the evidence files and the bus"))
