/**
 * The honeypot module contract and the shared server harness. A service is a slug, its ports, a
 * config Schema and a scoped `run` that binds listeners. The same module runs in-process (tests,
 * the embedded default) and inside a decky container (`decnet decky`).
 */
import * as dgram from "node:dgram"
import * as net from "node:net"
import {
  Cause,
  Context,
  Data,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  ParseResult,
  Runtime,
  Schema,
  type SchemaAST,
  type Scope
} from "effect"
import type { Severity } from "../../logging/Rfc5424.js"
import { type Connection, type ConnectionError, makeConnection, normalizeIp } from "./Connection.js"
import { type EventFields, EventSink, formatHoneypotEvent } from "./Events.js"
import { defaultLimits, type HoneypotLimits } from "./Limits.js"
import { InstanceSeed } from "./Seed.js"

export class HoneypotListenError extends Data.TaggedError("HoneypotListenError")<{
  readonly service: string
  readonly host: string
  readonly port: number
  readonly message: string
  /** The socket error code (`EACCES`, `EADDRINUSE`, `EADDRNOTAVAIL`…) when the OS refused the bind. */
  readonly code?: string | undefined
}> {}

const errorCode = (error: Error): string | undefined =>
  "code" in error && typeof error.code === "string" ? error.code : undefined

/** One readable sentence for a refused bind; the common causes say what to do. */
export const describeBindError = (
  host: string,
  port: number,
  error: Error,
  proto: "tcp" | "udp" = "tcp"
): string => {
  const code = errorCode(error)
  const where = `${proto === "udp" ? "udp " : ""}${host}:${port}`
  switch (code) {
    case "EACCES":
      return port < 1024
        ? `cannot bind ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`
        : `cannot bind ${where}: permission denied`
    case "EADDRINUSE":
      return `cannot bind ${where}: address already in use (another process listens there)`
    case "EADDRNOTAVAIL":
      return `cannot bind ${where}: address not available (${host} is not an address of this host)`
    default:
      return `cannot bind ${where}: ${error.message}`
  }
}

export class HoneypotConfigError extends Data.TaggedError("HoneypotConfigError")<{
  readonly service: string
  readonly message: string
}> {}

export interface EmitOptions {
  readonly msg?: string | undefined
  readonly severity?: Severity | undefined
}

export interface HoneypotContextService {
  /** NODE_NAME: the decky name, used as the RFC 5424 HOSTNAME. */
  readonly decky: string
  /** The decky's hostname as shown to attackers (prompts, banners). */
  readonly hostname: string
  readonly seed: InstanceSeed
  readonly limits: HoneypotLimits
  /** Root for captured files, sessions and mail (per decky). */
  readonly artifactsDir: string
  readonly emit: (
    service: string,
    eventType: string,
    fields: EventFields,
    options?: EmitOptions
  ) => Effect.Effect<void>
}

export class HoneypotContext extends Context.Tag("decnet/honeypots/HoneypotContext")<
  HoneypotContext,
  HoneypotContextService
>() {}

export interface HoneypotContextOptions {
  readonly decky: string
  readonly hostname?: string | undefined
  readonly instanceId?: string | undefined
  readonly limits?: Partial<HoneypotLimits> | undefined
  readonly artifactsDir?: string | undefined
}

export const HoneypotContextLive = (
  options: HoneypotContextOptions
): Layer.Layer<HoneypotContext, never, EventSink> =>
  Layer.effect(
    HoneypotContext,
    Effect.gen(function* () {
      const sink = yield* EventSink
      const decky = options.decky
      return {
        decky,
        hostname: options.hostname ?? decky,
        seed: new InstanceSeed(decky, options.instanceId ?? ""),
        limits: { ...defaultLimits, ...options.limits },
        artifactsDir: options.artifactsDir ?? `/var/lib/decnet/artifacts/${decky}`,
        emit: (service, eventType, fields, emitOptions) =>
          sink.write(
            formatHoneypotEvent({
              decky,
              service,
              eventType,
              fields,
              msg: emitOptions?.msg,
              severity: emitOptions?.severity
            })
          )
      }
    })
  )

export interface Listener {
  readonly proto: "tcp" | "udp"
  readonly defaultPort: number
  readonly host: string
  readonly port: number
}

export interface RunOptions<C> {
  readonly host: string
  readonly config: C
  /** Maps a default port to the port to bind (identity in production, 0/ephemeral in tests). */
  readonly port: (defaultPort: number) => number
}

export interface HoneypotModule<C, I> {
  readonly slug: string
  readonly description: string
  readonly ports: { readonly tcp: ReadonlyArray<number>; readonly udp: ReadonlyArray<number> }
  readonly config: Schema.Schema<C, I>
  readonly run: (
    options: RunOptions<C>
  ) => Effect.Effect<ReadonlyArray<Listener>, HoneypotListenError, Scope.Scope | HoneypotContext>
}

/** A module with its config type erased, so heterogeneous services share one registry. */
export interface Honeypot {
  readonly slug: string
  readonly description: string
  readonly ports: { readonly tcp: ReadonlyArray<number>; readonly udp: ReadonlyArray<number> }
  readonly start: (options: {
    readonly host: string
    readonly config?: unknown
    readonly port?: ((defaultPort: number) => number) | undefined
    /**
     * Config keys the Schema does not know: dropped (`ignore`, the default, like the original's
     * validate_cfg), dropped with a warning (`warn`), or refused (`error`, for by-hand runs).
     */
    readonly unknownConfigKeys?: UnknownConfigKeys | undefined
  }) => Effect.Effect<
    ReadonlyArray<Listener>,
    HoneypotListenError | HoneypotConfigError,
    Scope.Scope | HoneypotContext
  >
  /** Decode a config exactly as `start` would, without binding anything (for up-front checks). */
  readonly validateConfig: (
    config: unknown,
    unknownConfigKeys?: UnknownConfigKeys | undefined
  ) => Effect.Effect<void, HoneypotConfigError>
}

export const defineHoneypot = <C, I>(module: HoneypotModule<C, I>): Honeypot => ({
  slug: module.slug,
  description: module.description,
  ports: module.ports,
  start: (options) =>
    Effect.gen(function* () {
      const config = yield* decodeConfig(module, options.config ?? {}, options.unknownConfigKeys ?? "ignore")
      const ctx = yield* HoneypotContext
      const listeners = yield* module.run({ host: options.host, config, port: options.port ?? ((p) => p) })
      yield* ctx.emit(module.slug, "startup", {}, { msg: `${module.slug} server starting as ${ctx.decky}` })
      return listeners
    }).pipe(Effect.withSpan(`Honeypot.start`, { attributes: { service: module.slug } })),
  validateConfig: (config, unknownConfigKeys) =>
    Effect.asVoid(decodeConfig(module, config, unknownConfigKeys ?? "ignore"))
})

export type UnknownConfigKeys = "ignore" | "warn" | "error"

const pathOf = (issue: ParseResult.ArrayFormatterIssue): string => issue.path.map(String).join(".")

/**
 * `"key": problem; unknown key "x" (…)`, one line naming every bad key. The "Expected undefined"
 * alternative an optional field adds to each failure is noise and is dropped.
 */
const formatConfigIssues = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): string => {
  const useful = issues.filter(
    (i) =>
      !(
        i.message.startsWith("Expected undefined") &&
        issues.some(
          (j) => j !== i && pathOf(j).startsWith(pathOf(i)) && !j.message.startsWith("Expected undefined")
        )
      )
  )
  return useful
    .map((issue) => {
      const path = pathOf(issue)
      if (issue._tag === "Unexpected")
        return `unknown key "${path}" (${issue.message.replace(/^is unexpected, expected: /, "valid keys: ")})`
      if (path === "")
        return /^Expected Struct/.test(issue.message) ? "expected a JSON object" : issue.message
      return `"${path}": ${issue.message}`
    })
    .join("; ")
}

const hasNoKeys = (ast: SchemaAST.AST): boolean =>
  ast._tag === "TypeLiteral" && ast.propertySignatures.length === 0 && ast.indexSignatures.length === 0

const decodeLoose = <C, I>(
  module: HoneypotModule<C, I>,
  input: unknown
): Effect.Effect<C, HoneypotConfigError> =>
  Schema.decodeUnknown(module.config, { errors: "all" })(input).pipe(
    Effect.mapError(
      (e) =>
        new HoneypotConfigError({
          service: module.slug,
          message: `invalid ${module.slug} config: ${formatConfigIssues(ParseResult.ArrayFormatter.formatErrorSync(e))}`
        })
    )
  )

const decodeConfig = <C, I>(
  module: HoneypotModule<C, I>,
  input: unknown,
  unknownKeys: UnknownConfigKeys
): Effect.Effect<C, HoneypotConfigError> =>
  Effect.gen(function* () {
    const fail = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>) =>
      new HoneypotConfigError({
        service: module.slug,
        message: `invalid ${module.slug} config: ${formatConfigIssues(issues)}`
      })
    if (typeof input !== "object" || input === null || Array.isArray(input))
      return yield* new HoneypotConfigError({
        service: module.slug,
        message: `invalid ${module.slug} config: expected a JSON object`
      })
    // Schema.Struct({}) is TypeScript's `{}`: it accepts every key, even with onExcessProperty.
    if (hasNoKeys(module.config.ast)) {
      const unknown = Object.keys(input)
      if (unknown.length === 0 || unknownKeys === "ignore") return yield* decodeLoose(module, input)
      const named = unknown.map((k) => `"${k}"`).join(", ")
      if (unknownKeys === "error")
        return yield* new HoneypotConfigError({
          service: module.slug,
          message: `invalid ${module.slug} config: unknown key ${named} (${module.slug} has no config keys)`
        })
      yield* Effect.logWarning(`${module.slug} config: ignoring unknown ${named}`)
      return yield* decodeLoose(module, input)
    }
    const strict = yield* Effect.either(
      Schema.decodeUnknown(module.config, { errors: "all", onExcessProperty: "error" })(input)
    )
    if (Either.isRight(strict)) return strict.right
    const issues = ParseResult.ArrayFormatter.formatErrorSync(strict.left)
    const unexpected = issues.filter((i) => i._tag === "Unexpected")
    const others = issues.filter((i) => i._tag !== "Unexpected")
    if (unknownKeys === "error" || others.length > 0 || unexpected.length === 0)
      return yield* fail(unknownKeys === "error" ? issues : others)
    if (unknownKeys === "warn")
      yield* Effect.logWarning(
        `${module.slug} config: ignoring unknown ${unexpected.map((i) => `"${pathOf(i)}"`).join(", ")}`
      )
    return yield* decodeLoose(module, input)
  })

/** Log at most once per `windowMs` per key, so a flood of limit hits is one line, not thousands. */
const rateLimitedLog = (windowMs: number) => {
  const last = new Map<string, number>()
  return (key: string, message: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const now = Date.now()
      const prev = last.get(key) ?? 0
      if (now - prev < windowMs) return Effect.void
      last.set(key, now)
      if (last.size > 4096) last.clear()
      return Effect.logWarning(message)
    })
}

export interface ServeTcpOptions<R> {
  readonly service: string
  readonly host: string
  readonly port: number
  /** The port the protocol is known by (for listener reports). */
  readonly defaultPort?: number
  readonly handler: (conn: Connection) => Effect.Effect<void, ConnectionError, R>
  /**
   * How long a handler may keep running once its client's socket has closed before it is
   * interrupted (its finalizers still run). The grace lets it finish post-close work (store what
   * arrived, emit a summary); past it the handler is waiting on something else (a second
   * connection, a timer) and would hold resources the per-IP count no longer sees.
   */
  readonly closeGraceMs?: number
}

/** Default `closeGraceMs`. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000

let nextConnectionId = 1

/**
 * Bind a TCP listener; run `handler` in its own fiber per connection. Per-IP and global
 * connection limits, idle timeout and bounded buffers are enforced here, and every limit hit
 * is logged (rate-limited). A handler failure closes that connection only; a handler still
 * running `closeGraceMs` after its client closed is interrupted.
 */
export const serveTcp = <R>(
  options: ServeTcpOptions<R>
): Effect.Effect<Listener, HoneypotListenError, Scope.Scope | HoneypotContext | R> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const runtime = yield* Effect.runtime<R | HoneypotContext>()
    const limits = ctx.limits
    const perIp = new Map<string, number>()
    const live = new Set<Fiber.RuntimeFiber<void, never>>()
    const sockets = new Set<net.Socket>()
    const warn = rateLimitedLog(10_000)
    const runFork = Runtime.runFork(runtime)
    const label = `${options.service}@${options.host}:${options.port}`
    const closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS

    const server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => {
      const ip = normalizeIp(socket.remoteAddress)
      const count = perIp.get(ip) ?? 0
      if (sockets.size >= limits.maxConnections) {
        runFork(
          warn(`${label}:max`, `${label}: connection limit ${limits.maxConnections} reached; refusing ${ip}`)
        )
        socket.destroy()
        return
      }
      if (count >= limits.maxConnectionsPerIp) {
        runFork(
          warn(
            `${label}:ip:${ip}`,
            `${label}: per-IP limit ${limits.maxConnectionsPerIp} reached for ${ip}; refusing`
          )
        )
        socket.destroy()
        return
      }
      perIp.set(ip, count + 1)
      sockets.add(socket)
      socket.on("error", () => {})
      socket.setTimeout(limits.idleTimeoutMs, () => {
        runFork(warn(`${label}:idle`, `${label}: idle timeout ${limits.idleTimeoutMs}ms for ${ip}; closing`))
        socket.destroy()
      })
      const conn = makeConnection(socket, {
        id: nextConnectionId++,
        maxLineBytes: limits.maxLineBytes,
        maxFrameBytes: limits.maxFrameBytes
      })
      const program = options.handler(conn).pipe(
        Effect.catchAllCause((cause) => {
          if (Cause.isInterruptedOnly(cause)) return Effect.void
          const failure = Cause.failureOption(cause)
          if (failure._tag === "Some") {
            const e = failure.value
            if (e._tag === "ConnectionClosed") return Effect.void
            if (e._tag === "LimitExceeded")
              return warn(
                `${label}:limit:${e.limit}`,
                `${label}: ${e.limit} limit ${e.max} exceeded by ${ip}; closing`
              )
            return warn(`${label}:proto:${ip}`, `${label}: malformed input from ${ip}: ${e.reason}; closing`)
          }
          return Effect.logError(`${label}: handler defect for ${ip}`, cause)
        }),
        Effect.ensuring(
          Effect.sync(() => {
            const s = conn.socket()
            if (!s.destroyed) {
              s.end()
              setTimeout(() => s.destroy(), 1000).unref()
            }
          })
        )
      )
      const fiber = runFork(program)
      live.add(fiber)
      socket.once("close", () => {
        sockets.delete(socket)
        const left = (perIp.get(ip) ?? 1) - 1
        if (left <= 0) perIp.delete(ip)
        else perIp.set(ip, left)
        // The IP's slot is free from now on, so the handler must not outlive the socket for long.
        if (!live.has(fiber)) return
        const timer = setTimeout(() => {
          if (live.has(fiber)) runFork(Fiber.interrupt(fiber))
        }, closeGraceMs)
        timer.unref()
        fiber.addObserver(() => clearTimeout(timer))
      })
      fiber.addObserver(() => live.delete(fiber))
    })
    server.maxConnections = limits.maxConnections * 2

    const port = yield* Effect.async<number, HoneypotListenError>((resume) => {
      const onError = (e: Error) =>
        resume(
          Effect.fail(
            new HoneypotListenError({
              service: options.service,
              host: options.host,
              port: options.port,
              message: describeBindError(options.host, options.port, e),
              code: errorCode(e)
            })
          )
        )
      server.once("error", onError)
      server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
        server.off("error", onError)
        const addr = server.address()
        resume(Effect.succeed(typeof addr === "object" && addr !== null ? addr.port : options.port))
      })
    })
    server.on("error", (e) => runFork(Effect.logError(`${label}: listener error: ${e.message}`)))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        server.close()
        for (const s of sockets) s.destroy()
        yield* Fiber.interruptAll([...live])
      })
    )
    return {
      proto: "tcp",
      defaultPort: options.defaultPort ?? options.port,
      host: options.host,
      port
    } as const
  })

export interface ServeUdpOptions<R> {
  readonly service: string
  readonly host: string
  readonly port: number
  readonly defaultPort?: number
  readonly maxDatagramBytes?: number
  readonly handler: (
    msg: Buffer,
    remote: { readonly address: string; readonly port: number },
    reply: (data: Uint8Array) => Effect.Effect<void>
  ) => Effect.Effect<void, ConnectionError, R>
}

/** Bind a UDP listener; each datagram is handled in its own short fiber. */
export const serveUdp = <R>(
  options: ServeUdpOptions<R>
): Effect.Effect<Listener, HoneypotListenError, Scope.Scope | HoneypotContext | R> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<R | HoneypotContext>()
    const runFork = Runtime.runFork(runtime)
    const warn = rateLimitedLog(10_000)
    const label = `${options.service}@${options.host}:${options.port}/udp`
    const maxBytes = options.maxDatagramBytes ?? 65_535
    const sock = dgram.createSocket({ type: net.isIPv6(options.host) ? "udp6" : "udp4", reuseAddr: false })
    sock.on("message", (msg, rinfo) => {
      if (msg.length > maxBytes) {
        runFork(
          warn(`${label}:size`, `${label}: datagram of ${msg.length} bytes from ${rinfo.address} dropped`)
        )
        return
      }
      const remote = { address: normalizeIp(rinfo.address), port: rinfo.port }
      const reply = (data: Uint8Array) => Effect.sync(() => sock.send(data, rinfo.port, rinfo.address))
      runFork(
        options.handler(msg, remote, reply).pipe(
          Effect.catchAll((e) =>
            e._tag === "ConnectionClosed"
              ? Effect.void
              : warn(
                  `${label}:proto:${remote.address}`,
                  `${label}: malformed datagram from ${remote.address}`
                )
          ),
          Effect.catchAllDefect((d) => Effect.logError(`${label}: handler defect`, Cause.die(d)))
        )
      )
    })
    const port = yield* Effect.async<number, HoneypotListenError>((resume) => {
      sock.once("error", (e) =>
        resume(
          Effect.fail(
            new HoneypotListenError({
              service: options.service,
              host: options.host,
              port: options.port,
              message: describeBindError(options.host, options.port, e, "udp"),
              code: errorCode(e)
            })
          )
        )
      )
      sock.bind({ address: options.host, port: options.port, exclusive: true }, () =>
        resume(Effect.succeed(sock.address().port))
      )
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => sock.close()))
    return {
      proto: "udp",
      defaultPort: options.defaultPort ?? options.port,
      host: options.host,
      port
    } as const
  })

/** Run an effect's exit through a callback boundary (for callback libraries such as ssh2). */
export const runCallback = <A, E, R>(runtime: Runtime.Runtime<R>, effect: Effect.Effect<A, E, R>): void => {
  Runtime.runCallback(runtime)(effect, {
    onExit: (exit) => {
      if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
        Runtime.runFork(runtime)(Effect.logError("honeypot callback failed", exit.cause))
      }
    }
  })
}
