/**
 * The TCP/UDP serving harness every emulator binds through. One fiber per connection, with the
 * connection's own Emitter; per-IP and global caps (refusals become aggregated `connection_refused`
 * events); deadlines on Effect's Clock (idle, pre-login grace, session cap, a handler outliving its
 * client); and counters of what it refused and cut, per listener.
 */
import * as dgram from "node:dgram"
import * as net from "node:net"
import { Cause, Data, Effect, Exit, Fiber, Runtime, type Scope } from "effect"
import {
  type CloseReason,
  type Connection,
  type ConnectionError,
  makeConnection,
  normalizeIp
} from "./Connection.js"
import { HoneypotContext, type HoneypotContextService } from "./Context.js"
import type { Emitter } from "./Emitter.js"
import type { RuntimeEvent, ServiceEvents, TaggedEvent } from "./Events.js"

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

/** What one listener has seen so far. */
export interface ListenerStats {
  readonly open: number
  readonly accepted: number
  readonly refused: { readonly perIp: number; readonly global: number }
  /** Connections the runtime closed itself, by reason. */
  readonly cut: Readonly<Record<CloseReason, number>>
  /** Reply bytes queued over every open connection right now. */
  readonly queuedBytes: number
}

export interface Listener {
  readonly proto: "tcp" | "udp"
  readonly defaultPort: number
  readonly host: string
  readonly port: number
  readonly stats: () => ListenerStats
}

/** Log at most once per `windowMs` per key, so a flood of limit hits is one line, not thousands. */
const rateLimitedLog = (windowMs: number, now: () => number) => {
  const last = new Map<string, number>()
  return (key: string, message: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const t = now()
      const prev = last.get(key)
      if (prev !== undefined && t - prev < windowMs) return Effect.void
      last.set(key, t)
      if (last.size > 4096) last.clear()
      return Effect.logWarning(message)
    })
}

/** Refusals are counted per source and reported once per window (the first one at once). */
export const REFUSAL_WINDOW_S = 60
/** Sources tracked at once; past it, refusals from new sources are counted but not itemised. */
const MAX_REFUSING_SOURCES = 4096

interface RefusalEntry {
  count: number
}

/**
 * The `connection_refused` aggregator of one listener: a refusal is a map bump in the accept
 * callback; a fiber flushes the counts every window and forgets sources that went quiet. It runs only
 * while there is something to count, so an idle listener holds no fiber.
 */
const makeRefusals = <E extends TaggedEvent>(
  ctx: HoneypotContextService,
  events: ServiceEvents<E | RuntimeEvent>,
  runFork: <A>(effect: Effect.Effect<A>) => Fiber.RuntimeFiber<A>
) => {
  const entries = new Map<string, RefusalEntry>()
  let overflow = 0
  let flusher: Fiber.RuntimeFiber<void> | undefined
  const report = (limit: "per_ip" | "global", ip: string, count: number, windowS: number) =>
    ctx
      .emitter(events, { ip, port: null })
      .emit({ _tag: "connection_refused", limit, count, window_s: windowS }, { severity: 4 })
  const refuse = (limit: "per_ip" | "global", ip: string): void => {
    const key = `${limit} ${ip}`
    const entry = entries.get(key)
    if (entry !== undefined) {
      entry.count++
      return
    }
    if (entries.size >= MAX_REFUSING_SOURCES) {
      overflow++
      return
    }
    entries.set(key, { count: 0 })
    runFork(report(limit, ip, 1, 0))
    if (flusher === undefined) {
      const loop = Effect.whileLoop({
        while: () => entries.size > 0 || overflow > 0,
        body: () => Effect.zipRight(Effect.sleep(`${REFUSAL_WINDOW_S} seconds`), flush),
        step: () => {}
      })
      flusher = runFork(
        Effect.ensuring(
          loop,
          Effect.sync(() => {
            flusher = undefined
          })
        )
      )
    }
  }
  const flush = Effect.gen(function* () {
    for (const [key, entry] of [...entries]) {
      if (entry.count === 0) {
        entries.delete(key)
        continue
      }
      const [limit, ip = ""] = key.split(" ")
      yield* report(limit === "global" ? "global" : "per_ip", ip, entry.count, REFUSAL_WINDOW_S)
      entry.count = 0
    }
    if (overflow > 0) {
      yield* Effect.logWarning(`${overflow} more refused connections from too many sources to itemise`)
      overflow = 0
    }
  })
  const stop = Effect.suspend(() => (flusher === undefined ? Effect.void : Fiber.interrupt(flusher)))
  return { refuse, stop }
}

export interface ServeTcpOptions<E extends TaggedEvent, R> {
  /** The service's events; the listener is labelled with their service slug. */
  readonly events: ServiceEvents<E | RuntimeEvent>
  readonly host: string
  readonly port: number
  /** The port the protocol is known by (for listener reports). */
  readonly defaultPort?: number
  readonly handler: (
    conn: Connection,
    emitter: Emitter<E | RuntimeEvent>
  ) => Effect.Effect<void, ConnectionError, R>
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

/** How long an ended connection may linger half-closed before it is destroyed. */
const END_LINGER_MS = 1_000

const noCuts = (): Record<CloseReason, number> => ({
  login_grace: 0,
  session_limit: 0,
  idle: 0,
  write_backlog: 0,
  handshake: 0
})

/** How often a listener's deadlines are checked (they fire at most this late). */
const SWEEP_MS = 1_000

/** One connection as the sweeper sees it. */
interface Tracked {
  readonly conn: Connection
  readonly openedAt: number
  lastTraffic: number
  lastActive: number
  /** When the client's socket closed. */
  closedAt: number | undefined
  /** When the handler finished and the socket was half-closed. */
  endedAt: number | undefined
  /** The handler, while it runs. */
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/**
 * Bind a TCP listener; run `handler` in its own fiber per connection. Per-IP and global connection
 * limits, deadlines and bounded buffers are enforced here. A handler failure closes that connection
 * only.
 */
export const serveTcp = <E extends TaggedEvent, R>(
  options: ServeTcpOptions<E, R>
): Effect.Effect<Listener, HoneypotListenError, Scope.Scope | HoneypotContext | R> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const runtime = yield* Effect.runtime<R | HoneypotContext>()
    const runFork = Runtime.runFork(runtime)
    const limits = ctx.limits
    const service = options.events.service
    const label = `${service}@${options.host}:${options.port}`
    const closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS
    const warn = rateLimitedLog(10_000, now)
    const perIp = new Map<string, number>()
    const live = new Set<Fiber.RuntimeFiber<void, never>>()
    const connections = new Set<Connection>()
    let nextConnectionId = 1
    let accepted = 0
    const refused = { perIp: 0, global: 0 }
    const cut = noCuts()
    const refusals = makeRefusals(ctx, options.events, runFork)

    /**
     * Deadlines are kept by one sweeper per listener rather than a timer fiber per connection: every
     * second (on the Clock) it checks each connection's idle time, pre-login grace or session cap,
     * a handler outliving its client by the close grace, and a half-closed socket lingering past its
     * FIN. It runs only while the listener has connections.
     */
    const tracked = new Set<Tracked>()
    let sweeper: Fiber.RuntimeFiber<void> | undefined
    const sweepOnce = (t: Tracked, at: number): void => {
      if (t.closedAt !== undefined) {
        if (t.fiber === undefined) tracked.delete(t)
        else if (at >= t.closedAt + closeGraceMs) {
          const fiber = t.fiber
          runFork(Fiber.interrupt(fiber))
        }
        return
      }
      if (t.endedAt !== undefined) {
        // A client that ignores our FIN still loses its slot soon after.
        if (at >= t.endedAt + END_LINGER_MS) t.conn.socket().destroy()
        return
      }
      const traffic = t.conn.traffic()
      if (traffic !== t.lastTraffic) {
        t.lastTraffic = traffic
        t.lastActive = at
      }
      const login = t.conn.loggedInAt()
      const stage = t.conn.stageDeadline()
      if (stage !== undefined && at >= stage) t.conn.cut("handshake")
      else if (at >= t.lastActive + limits.idleTimeoutMs) t.conn.cut("idle")
      else if (
        login === undefined ? at >= t.openedAt + limits.loginGraceMs : at >= login + limits.maxSessionMs
      )
        t.conn.cut(login === undefined ? "login_grace" : "session_limit")
    }
    const sweep = Effect.whileLoop({
      while: () => tracked.size > 0,
      body: () =>
        Effect.zipRight(
          Effect.sleep(SWEEP_MS),
          Effect.sync(() => {
            const at = now()
            for (const t of tracked) sweepOnce(t, at)
          })
        ),
      step: () => {}
    })
    const track = (t: Tracked): void => {
      tracked.add(t)
      if (sweeper !== undefined) return
      sweeper = runFork(
        Effect.ensuring(
          sweep,
          Effect.sync(() => {
            sweeper = undefined
          })
        )
      )
    }

    const server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => {
      const ip = normalizeIp(socket.remoteAddress)
      if (connections.size >= limits.maxConnections) {
        refused.global++
        refusals.refuse("global", ip)
        runFork(
          warn(`${label}:max`, `${label}: connection limit ${limits.maxConnections} reached; refusing ${ip}`)
        )
        socket.destroy()
        return
      }
      const count = perIp.get(ip) ?? 0
      if (count >= limits.maxConnectionsPerIp) {
        refused.perIp++
        refusals.refuse("per_ip", ip)
        runFork(
          warn(
            `${label}:ip:${ip}`,
            `${label}: per-IP limit ${limits.maxConnectionsPerIp} reached for ${ip}; refusing`
          )
        )
        socket.destroy()
        return
      }
      accepted++
      perIp.set(ip, count + 1)
      socket.on("error", () => {})
      const emitter = ctx.emitter(options.events, { ip, port: socket.remotePort ?? 0 })
      const openedAt = now()
      // Every cut (a deadline, or a client that does not read its replies) is counted and logged once.
      const onCut = (reason: CloseReason) => {
        cut[reason]++
        runFork(
          Effect.zipRight(
            emitter.emit(
              { _tag: "connection_closed", reason, after_s: Math.floor((now() - openedAt) / 1000) },
              { severity: 4 }
            ),
            warn(`${label}:${reason}`, `${label}: ${reason} for ${ip}; closing`)
          )
        )
      }
      const conn = makeConnection(socket, {
        id: nextConnectionId++,
        maxLineBytes: limits.maxLineBytes,
        maxFrameBytes: limits.maxFrameBytes,
        writeHighWaterBytes: limits.writeHighWaterBytes,
        maxWriteBacklogBytes: limits.maxWriteBacklogBytes,
        now,
        onCut
      })
      connections.add(conn)
      const entry: Tracked = {
        conn,
        openedAt,
        lastTraffic: 0,
        lastActive: openedAt,
        closedAt: undefined,
        endedAt: undefined,
        fiber: undefined
      }
      socket.once("close", () => {
        entry.closedAt = now()
        connections.delete(conn)
        const left = (perIp.get(ip) ?? 1) - 1
        if (left <= 0) perIp.delete(ip)
        else perIp.set(ip, left)
      })
      const handled = options.handler(conn, emitter).pipe(
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
        })
      )
      const fiber = runFork(handled)
      entry.fiber = fiber
      live.add(fiber)
      fiber.addObserver(() => {
        live.delete(fiber)
        entry.fiber = undefined
        const s = conn.socket()
        if (s.destroyed) return
        s.end()
        entry.endedAt = now()
      })
      track(entry)
    })
    server.maxConnections = limits.maxConnections * 2

    const port = yield* Effect.async<number, HoneypotListenError>((resume) => {
      const onError = (e: Error) =>
        resume(
          Effect.fail(
            new HoneypotListenError({
              service,
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
        for (const c of connections) c.socket().destroy()
        yield* Fiber.interruptAll([...live])
        yield* refusals.stop
        tracked.clear()
        if (sweeper !== undefined) yield* Fiber.interrupt(sweeper)
      })
    )
    return {
      proto: "tcp",
      defaultPort: options.defaultPort ?? options.port,
      host: options.host,
      port,
      stats: () => {
        let queuedBytes = 0
        for (const c of connections) queuedBytes += c.queuedBytes()
        return {
          open: connections.size,
          accepted,
          refused: { ...refused },
          cut: { ...cut },
          queuedBytes
        }
      }
    } as const
  })

export interface ServeUdpOptions<E extends TaggedEvent, R> {
  readonly events: ServiceEvents<E | RuntimeEvent>
  readonly host: string
  readonly port: number
  readonly defaultPort?: number
  readonly maxDatagramBytes?: number
  readonly handler: (
    msg: Buffer,
    emitter: Emitter<E | RuntimeEvent>,
    reply: (data: Uint8Array) => Effect.Effect<void>
  ) => Effect.Effect<void, ConnectionError, R>
}

/** Bind a UDP listener; each datagram is handled in its own short fiber, with its sender's emitter. */
export const serveUdp = <E extends TaggedEvent, R>(
  options: ServeUdpOptions<E, R>
): Effect.Effect<Listener, HoneypotListenError, Scope.Scope | HoneypotContext | R> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const clock = yield* Effect.clock
    const runtime = yield* Effect.runtime<R | HoneypotContext>()
    const runFork = Runtime.runFork(runtime)
    const warn = rateLimitedLog(10_000, () => clock.unsafeCurrentTimeMillis())
    const service = options.events.service
    const label = `${service}@${options.host}:${options.port}/udp`
    const maxBytes = options.maxDatagramBytes ?? 65_535
    let accepted = 0
    const sock = dgram.createSocket({ type: net.isIPv6(options.host) ? "udp6" : "udp4", reuseAddr: false })
    sock.on("message", (msg, rinfo) => {
      if (msg.length > maxBytes) {
        runFork(
          warn(`${label}:size`, `${label}: datagram of ${msg.length} bytes from ${rinfo.address} dropped`)
        )
        return
      }
      accepted++
      const emitter = ctx.emitter(options.events, { ip: normalizeIp(rinfo.address), port: rinfo.port })
      const reply = (data: Uint8Array) => Effect.sync(() => sock.send(data, rinfo.port, rinfo.address))
      runFork(
        options.handler(msg, emitter, reply).pipe(
          Effect.catchAll((e) =>
            e._tag === "ConnectionClosed"
              ? Effect.void
              : warn(`${label}:proto:${rinfo.address}`, `${label}: malformed datagram from ${rinfo.address}`)
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
              service,
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
      port,
      stats: () => ({
        open: 0,
        accepted,
        refused: { perIp: 0, global: 0 },
        cut: noCuts(),
        queuedBytes: 0
      })
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
