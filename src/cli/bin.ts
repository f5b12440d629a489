// The process entry behind bin/decnet: the only module in src/ that runs an effect. Errors are reported
// once, as one readable line (the exit code is 1); @effect/cli has already printed its own usage errors.
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Layer, Option, Predicate } from "effect"
import { DecnetConfigProvider } from "../config/ConfigProvider.js"
import { DecnetLogger } from "../logging/DecnetLogger.js"
import { runCli } from "./main.js"

const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const e = failure.value
      if (ValidationError.isValidationError(e)) return
      // A ConfigError's string form names the key ("Invalid data at DECNET_MODE: …").
      if (ConfigError.isConfigError(e)) {
        process.stderr.write(`decnet: configuration error: ${String(e)}\n`)
        return
      }
      if (Predicate.hasProperty(e, "message") && typeof e.message === "string" && e.message.length > 0) {
        process.stderr.write(`decnet: ${e.message}\n`)
        return
      }
    }
    process.stderr.write(`decnet: ${Cause.pretty(cause)}\n`)
  })

// The host INI (DECNET_CONFIG) sits behind the real environment for every Config read, the logger's own
// DECNET_DEVELOPER level included; warnings about the INI itself are already RFC 5424 lines.
const logging = DecnetLogger.layer("decnet")
const settings = logging.pipe(Layer.provideMerge(DecnetConfigProvider.layer.pipe(Layer.provide(logging))))

runCli(process.argv).pipe(
  Effect.tapErrorCause(report),
  // stdout carries command output and honeypot events only: process logs are RFC 5424 lines on stderr
  // (commands override the APP-NAME), and runMain's pretty logger, which writes to stdout, stays off.
  Effect.provide(Layer.merge(NodeContext.layer, settings)),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
