/**
 * The application (daemon) Logger: every Effect log call becomes one RFC 5424 line in the layout of
 * spec logging-and-config §1.2, `<PRI>1 TS HOST APP PID MSGID - MSG`, written to stderr.
 */
import * as os from "node:os"
import { Cause, Effect, FiberRef, FiberRefs, HashMap, Layer, List, Logger, LogLevel } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { FACILITY_LOCAL0, formatTimestamp, neutralizeControls, Severity } from "./Rfc5424.js"

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

/**
 * The component (APP-NAME) of the current fiber. A process installs one logger; a command or worker
 * names itself by setting this (`DecnetLogger.named`), which renames instead of adding a logger.
 */
export const CurrentComponent: FiberRef.FiberRef<string | undefined> = FiberRef.unsafeMake<
  string | undefined
>(undefined)

/**
 * Build a Logger that hands each formatted line to `write` (stderr in production, an array in tests).
 * `component` is the APP-NAME unless the fiber's `CurrentComponent` says otherwise.
 */
export const makeLogger = (
  options: LineOptions,
  write: (line: string) => void
): Logger.Logger<unknown, void> => {
  const host = headerToken(options.hostname ?? os.hostname())
  const pid = String(options.pid ?? process.pid)
  const names = new Map<string, { readonly app: string; readonly msgId: string }>()
  const namesOf = (component: string) => {
    let n = names.get(component)
    if (n === undefined) {
      n = {
        app: headerToken(component).slice(0, 48),
        msgId: headerToken(`decnet.${component}`).slice(0, 32)
      }
      names.set(component, n)
    }
    return n
  }
  return Logger.make(({ logLevel, message, cause, annotations, spans, date, context }) => {
    const { app, msgId } = namesOf(FiberRefs.getOrDefault(context, CurrentComponent) ?? options.component)
    const parts = Array.isArray(message) ? message.map(render) : [render(message)]
    const extras: Array<string> = []
    for (const [key, value] of HashMap.toEntries(annotations)) extras.push(`${key}=${render(value)}`)
    for (const span of List.toArray(spans)) extras.push(`${span.label}=${date.getTime() - span.startTime}ms`)
    // Messages may quote attacker input: control characters never reach the terminal raw.
    let msg = neutralizeControls([...parts, ...extras].join(" "))
    // Like the original's traceback, the cause follows after a newline: one record may span lines.
    if (!Cause.isEmpty(cause))
      msg += `\n${Cause.pretty(cause, { renderErrorCause: true }).split("\n").map(neutralizeControls).join("\n")}`
    const pri = FACILITY_LOCAL0 * 8 + severityOf(logLevel)
    write(`<${pri}>1 ${formatTimestamp(date)} ${host} ${app} ${pid} ${msgId} - ${msg}`)
  })
}

const stderrWrite = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** DEBUG only in developer mode (DecnetConfig's `developer`, `DECNET_DEVELOPER`), INFO otherwise. */
export const levelFor = (developer: boolean): LogLevel.LogLevel =>
  developer ? LogLevel.Debug : LogLevel.Info

// One logger instance per sink: installing it twice (the CLI root, then a command) adds nothing.
const loggers = new WeakMap<(line: string) => void, Logger.Logger<unknown, void>>()
const loggerFor = (write: (line: string) => void): Logger.Logger<unknown, void> => {
  let logger = loggers.get(write)
  if (logger === undefined) {
    logger = makeLogger({ component: "decnet" }, write)
    loggers.set(write, logger)
  }
  return logger
}

const install = (level: LogLevel.LogLevel, write: (line: string) => void = stderrWrite): Layer.Layer<never> =>
  Layer.merge(Logger.replace(Logger.defaultLogger, loggerFor(write)), Logger.minimumLogLevel(level))

const live = (write: (line: string) => void = stderrWrite): Layer.Layer<never, never, DecnetConfig> =>
  Layer.unwrapEffect(Effect.map(DecnetConfig, ({ developer }) => install(levelFor(developer), write)))

const named = (component: string): Layer.Layer<never> => Layer.locallyScoped(CurrentComponent, component)

export const DecnetLogger = {
  /**
   * Install the RFC 5424 logger (once per sink) in place of the default one, at an explicit level. For
   * what runs before DecnetConfig exists: the INI provider's own warnings.
   */
  install,
  /** Install the logger at the level DecnetConfig asks for. */
  live,
  /** Name the component (APP-NAME) for everything below; reads no settings, installs nothing. */
  named,
  /** `live` and `named` together: a whole process, or a test capturing lines. */
  layer: (
    component: string,
    write: (line: string) => void = stderrWrite
  ): Layer.Layer<never, never, DecnetConfig> => Layer.merge(live(write), named(component)),
  make: makeLogger
} as const
