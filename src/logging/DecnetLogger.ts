/**
 * The application (daemon) Logger: every Effect log call becomes one RFC 5424 line in the layout of
 * spec logging-and-config §1.2, `<PRI>1 TS HOST APP PID MSGID - MSG`, written to stderr.
 */
import * as os from "node:os"
import { Cause, Config, Effect, HashMap, Layer, List, Logger, LogLevel } from "effect"
import { FACILITY_LOCAL0, formatTimestamp, Severity } from "./Rfc5424.js"

/** Effect log level → syslog severity (§1.2: CRITICAL 2, ERROR 3, WARNING 4, INFO 6, DEBUG 7). */
export const severityOf = (level: LogLevel.LogLevel): Severity => {
  switch (level._tag) {
    case "Fatal":
      return Severity.critical
    case "Error":
      return Severity.error
    case "Warning":
      return Severity.warning
    case "Debug":
    case "Trace":
      return Severity.debug
    default:
      return Severity.info
  }
}

const render = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value instanceof Error) return value.message
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const headerToken = (value: string): string => {
  const cleaned = value.replace(/[^\x21-\x7e]/g, "_")
  return cleaned.length === 0 ? "-" : cleaned
}

export interface LineOptions {
  readonly component: string
  readonly hostname?: string
  readonly pid?: number
}

/** Build a Logger that hands each formatted line to `write` (stderr in production, an array in tests). */
export const makeLogger = (options: LineOptions, write: (line: string) => void): Logger.Logger<unknown, void> => {
  const host = headerToken(options.hostname ?? os.hostname())
  const app = headerToken(options.component).slice(0, 48)
  const msgId = headerToken(`decnet.${options.component}`).slice(0, 32)
  const pid = String(options.pid ?? process.pid)
  return Logger.make(({ logLevel, message, cause, annotations, spans, date }) => {
    const parts = Array.isArray(message) ? message.map(render) : [render(message)]
    const extras: Array<string> = []
    for (const [key, value] of HashMap.toEntries(annotations)) extras.push(`${key}=${render(value)}`)
    for (const span of List.toArray(spans)) extras.push(`${span.label}=${date.getTime() - span.startTime}ms`)
    let msg = [...parts, ...extras].join(" ")
    // Like the original's traceback, the cause follows after a newline: one record may span lines.
    if (!Cause.isEmpty(cause)) msg += `\n${Cause.pretty(cause, { renderErrorCause: true })}`
    const pri = FACILITY_LOCAL0 * 8 + severityOf(logLevel)
    write(`<${pri}>1 ${formatTimestamp(date)} ${host} ${app} ${pid} ${msgId} - ${msg}`)
  })
}

const stderrWrite = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** DEBUG only in developer mode (`DECNET_DEVELOPER=true`), INFO otherwise. */
export const minimumLevel: Config.Config<LogLevel.LogLevel> = Config.string("DECNET_DEVELOPER").pipe(
  Config.map((v) => (v.trim().toLowerCase() === "true" ? LogLevel.Debug : LogLevel.Info)),
  Config.withDefault(LogLevel.Info)
)

export const DecnetLogger = {
  /** Replace the default logger for this process; `component` becomes APP-NAME. */
  layer: (component: string, write: (line: string) => void = stderrWrite): Layer.Layer<never> =>
    Layer.unwrapEffect(
      Effect.map(Effect.orElseSucceed(minimumLevel, () => LogLevel.Info), (level) =>
        Layer.merge(
          Logger.replace(Logger.defaultLogger, makeLogger({ component }, write)),
          Logger.minimumLogLevel(level)
        )
      )
    ),
  make: makeLogger
} as const
