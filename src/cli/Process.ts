// How a `decnet` process is composed and run (ConfigProvider → DecnetConfig → logger → NodeContext), shared
// by the CLI's entry (bin.ts) and the decky image's entry (deckyBin.ts). Errors are reported once, as one
// readable line (the exit code is 1); @effect/cli has already printed its own usage errors.
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Layer, LogLevel, Option, Predicate } from "effect"
import { DecnetConfigProvider } from "../config/ConfigProvider.js"
import { DecnetConfig, formatConfigError } from "../config/DecnetConfig.js"
import { DecnetLogger } from "../logging/DecnetLogger.js"

const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const e = failure.value
      if (ValidationError.isValidationError(e)) return
      if (ConfigError.isConfigError(e)) {
        process.stderr.write(`decnet: configuration error: ${formatConfigError(e)}\n`)
        return
      }
      if (Predicate.hasProperty(e, "message") && typeof e.message === "string" && e.message.length > 0) {
        process.stderr.write(`decnet: ${e.message}\n`)
        return
      }
    }
    process.stderr.write(`decnet: ${Cause.pretty(cause)}\n`)
  })

// The INI provider logs its warnings while it is built, before DecnetConfig (and so the level) exists:
// they go out through the same RFC 5424 logger at INFO.
const Settings = DecnetConfig.layer.pipe(
  Layer.provide(DecnetConfigProvider.layer),
  Layer.provide(Layer.merge(DecnetLogger.install(LogLevel.Info), DecnetLogger.named("decnet")))
)

// stdout carries command output and honeypot events only: process logs are RFC 5424 lines on stderr
// (commands rename the APP-NAME), and runMain's pretty logger, which writes to stdout, stays off.
export const ProcessLive = Layer.mergeAll(DecnetLogger.layer("decnet"), NodeContext.layer).pipe(
  Layer.provideMerge(Settings)
)

export type ProcessContext = Layer.Layer.Success<typeof ProcessLive>

/** Run a whole process: provide the process layers, report a failure once, exit with its code. */
export const runProcess = <E>(program: Effect.Effect<unknown, E, ProcessContext>): void =>
  program.pipe(
    Effect.provide(ProcessLive),
    // After provide: a configuration error fails the layer, not the program, and must be reported the same way.
    Effect.tapErrorCause(report),
    NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
  )
