/**
 * The `decnet bus` broker core (spec/bus.md §1.1–§1.5): one UNIX socket, per-connection subscription
 * sets, broker-built envelopes, fan-out encoded once per event, drop-oldest per-subscriber queues
 * flushed in one corked batch, and a `system.bus.health` heartbeat.
 * The per-frame path is plain synchronous code inside socket callbacks; only logging goes through Effect.
 * Everything a client can make the broker hold is bounded: connections, patterns, queued bytes.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { dirname, relative } from "node:path"
import { Effect, Runtime, Schedule, type Scope } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { BusError } from "./Bus.js"
import { resolveSocketPath } from "./SocketPath.js"
import { isPublishableTopic, isValidPattern, matches } from "./Topics.js"
import {
  Decoder,
  decodeBodyAt,
  encodeTrusted,
  envelopeText,
  MAX_PATTERNS_PER_CONNECTION,
  newEventId,
  type Verb,
  WireError
} from "./Wire.js"

/** Frames queued per subscriber before the oldest is dropped (spec/bus.md §1.4). */
export const QUEUE_LIMIT = 1024
/** Bytes queued per subscriber before the oldest frames are dropped: 1024 frames of 1 MiB would be 1 GiB. */
export const QUEUE_BYTES_LIMIT = 8 * 1024 * 1024
/**
 * Bytes a subscriber's socket may buffer in user space (beyond what the kernel took) before the broker
 * stops writing to it; the rest waits in the bounded queue, where it can be dropped oldest-first.
 */
export const SOCKET_BUFFER_LIMIT = 1024 * 1024
/** Default cap on simultaneous client connections; further ones are closed at once. */
export const MAX_CONNECTIONS = 1024
/** Distinct topics whose subscriber lists are cached (cleared when full; kept up to date on SUB/UNSUB). */
const ROUTE_CACHE_LIMIT = 4096

interface Conn {
  readonly socket: Socket
  readonly decoder: Decoder
  readonly patterns: Set<string>
  name: string
  queue: Array<Buffer>
  /** Bytes in `queue`. */
  queueBytes: number
  dropped: number
  scheduled: boolean
  closed: boolean
}

interface Route {
  readonly quoted: string
  /** Each subscribed connection with the number of its patterns that match the topic (always ≥ 1). */
  readonly conns: Map<Conn, number>
}

export interface BrokerOptions {
  readonly socketPath: string
  /** Group to own the socket file; `""` keeps the process group. */
  readonly group: string
  /** Seconds between `system.bus.health` beats; 0 or less disables the heartbeat. */
  readonly heartbeatSeconds: number
  /** Simultaneous client connections served; further ones are closed at once. Default MAX_CONNECTIONS. */
  readonly maxConnections?: number
}

export interface BrokerStats {
  readonly connections: number
  /** Connections closed at once because `maxConnections` were already open. */
  readonly refused: number
  /** PUB frames accepted. */
  readonly published: number
  /** EVT frames handed to subscriber queues. */
  readonly enqueued: number
  /** EVT frames dropped (drop-oldest) because a subscriber did not keep up. */
  readonly dropped: number
  readonly violations: number
  /** Topics whose subscriber lists are cached. */
  readonly routes: number
  /** Bytes waiting in subscriber queues (each queue holds at most QUEUE_BYTES_LIMIT). */
  readonly queuedBytes: number
  /** Bytes buffered by subscriber sockets in user space (each at most SOCKET_BUFFER_LIMIT + one frame). */
  readonly socketBytes: number
}

export interface BrokerHandle {
  readonly stats: Effect.Effect<BrokerStats>
}

/** The gid of `group` from /etc/group (or a numeric gid as is); undefined when unknown. */
export const lookupGroupId = (group: string, groupFile = "/etc/group"): number | undefined => {
  if (/^\d+$/.test(group)) return Number(group)
  let text: string
  try {
    text = readFileSync(groupFile, "utf8")
  } catch {
    return undefined
  }
  for (const line of text.split("\n")) {
    const fields = line.split(":")
    if (fields[0] === group && fields.length >= 3 && /^\d+$/.test(fields[2] ?? "")) return Number(fields[2])
  }
  return undefined
}

const isUnder = (path: string, dir: string) => {
  const rel = relative(dir, path)
  return rel.length > 0 && !rel.startsWith("..")
}

export const serveBroker = (options: BrokerOptions): Effect.Effect<BrokerHandle, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const log = Runtime.runFork(runtime)
    const conns = new Set<Conn>()
    const started = Date.now()
    const maxConnections = options.maxConnections ?? MAX_CONNECTIONS
    let violations = 0
    let refused = 0
    let published = 0
    let enqueued = 0
    let dropped = 0
    // topic → subscribed connections, built on the first event of a topic. SUB, UNSUB and a close update
    // the cached routes in place (one `matches` per cached topic) instead of clearing them, so the routes of
    // busy topics stay warm and a client that subscribes in a loop cannot force every topic to be re-routed.
    let routes = new Map<string, Route>()

    const routeFor = (topic: string): Route => {
      const hit = routes.get(topic)
      if (hit !== undefined) return hit
      const matched = new Map<Conn, number>()
      for (const c of conns) {
        if (c.closed) continue
        let n = 0
        for (const p of c.patterns) if (matches(p, topic)) n++
        if (n > 0) matched.set(c, n)
      }
      if (routes.size >= ROUTE_CACHE_LIMIT) routes = new Map()
      const route = { quoted: JSON.stringify(topic), conns: matched }
      routes.set(topic, route)
      return route
    }

    const routeAdded = (c: Conn, pattern: string) => {
      for (const [topic, route] of routes)
        if (matches(pattern, topic)) route.conns.set(c, (route.conns.get(c) ?? 0) + 1)
    }

    const routeRemoved = (c: Conn, pattern: string) => {
      for (const [topic, route] of routes) {
        if (!matches(pattern, topic)) continue
        const n = (route.conns.get(c) ?? 0) - 1
        if (n > 0) route.conns.set(c, n)
        else route.conns.delete(c)
      }
    }

    const flush = (c: Conn) => {
      c.scheduled = false
      if (c.closed || c.queue.length === 0) return
      const socket = c.socket
      // Only write while the kernel takes data, and only up to a bound on what the socket itself buffers;
      // otherwise frames wait (and age out) in the bounded queue. A full socket always ends in 'drain'
      // (the limit is at least the high-water mark), which flushes again.
      if (socket.writableNeedDrain) return
      const limit = Math.max(SOCKET_BUFFER_LIMIT, socket.writableHighWaterMark)
      const queue = c.queue
      const first = queue[0]
      if (queue.length === 1 && first !== undefined) {
        c.queue = []
        c.queueBytes = 0
        socket.write(first)
        return
      }
      let i = 0
      let bytes = 0
      socket.cork()
      while (i < queue.length && socket.writableLength < limit) {
        const b = queue[i++]
        if (b === undefined) break
        bytes += b.length
        socket.write(b)
      }
      socket.uncork()
      c.queue = i === queue.length ? [] : queue.slice(i)
      c.queueBytes -= bytes
    }

    const enqueue = (c: Conn, frame: Buffer) => {
      let over = 0
      while (c.queue.length >= QUEUE_LIMIT || c.queueBytes + frame.length > QUEUE_BYTES_LIMIT) {
        const old = c.queue.shift()
        if (old === undefined) break
        c.queueBytes -= old.length
        over++
      }
      if (over > 0) {
        const before = c.dropped
        c.dropped += over
        dropped += over
        if (before === 0 || Math.floor(before / 10_000) !== Math.floor(c.dropped / 10_000))
          log(
            Effect.logWarning(
              `bus: subscriber ${c.name} is not keeping up; ${c.dropped} events dropped (oldest first)`
            )
          )
      }
      c.queue.push(frame)
      c.queueBytes += frame.length
      enqueued++
      if (!c.scheduled) {
        c.scheduled = true
        queueMicrotask(() => flushGuarded(c))
      }
    }

    const fanOut = (topic: string, type: string, payloadJson: string, origin: Conn | undefined) => {
      const route = routeFor(topic)
      const targets = route.conns
      if (targets.size === 0 || (targets.size === 1 && origin !== undefined && targets.has(origin))) return
      const frame = encodeTrusted(
        `EVT ${topic}`,
        envelopeText(newEventId(), route.quoted, type, Date.now() / 1000, payloadJson)
      )
      if (frame === undefined) {
        log(Effect.logError(`bus: dropping event on ${topic}: the envelope exceeds 1 MiB`))
        return
      }
      for (const c of targets.keys()) if (c !== origin && !c.closed) enqueue(c, frame)
    }

    const forget = (c: Conn) => {
      if (c.closed) return
      c.closed = true
      c.queue = []
      c.queueBytes = 0
      conns.delete(c)
      if (c.patterns.size > 0) for (const route of routes.values()) route.conns.delete(c)
      if (c.dropped > 0)
        log(Effect.logInfo(`bus: subscriber ${c.name} left; ${c.dropped} events dropped in total`))
    }

    const violate = (c: Conn, reason: string) => {
      violations++
      if (violations <= 10 || violations % 1000 === 0)
        log(
          Effect.logWarning(
            `bus: protocol violation from ${c.name}: ${reason}; connection closed (total ${violations})`
          )
        )
      forget(c)
      c.socket.destroy()
    }

    // Flushes run from microtasks and 'drain' callbacks, where an exception would end the process too.
    const flushGuarded = (c: Conn) => {
      try {
        flush(c)
      } catch (e) {
        if (!c.closed) violate(c, `write failed: ${String(e).slice(0, 120)}`)
      }
    }

    const handle = (c: Conn, verb: Verb, args: string, buf: Buffer, start: number, end: number): boolean => {
      switch (verb) {
        case "HELLO":
          c.name = args.length > 0 ? args : "<unknown>"
          return true
        case "SUB":
          if (!isValidPattern(args)) {
            violate(c, `invalid SUB pattern ${JSON.stringify(args.slice(0, 64))}`)
            return false
          }
          if (!c.patterns.has(args)) {
            if (c.patterns.size >= MAX_PATTERNS_PER_CONNECTION) {
              violate(c, `more than ${MAX_PATTERNS_PER_CONNECTION} SUB patterns on one connection`)
              return false
            }
            c.patterns.add(args)
            routeAdded(c, args)
          }
          return true
        case "UNSUB":
          if (c.patterns.delete(args)) routeRemoved(c, args)
          return true
        case "PUB": {
          if (args.length === 0) {
            violate(c, "empty PUB topic")
            return false
          }
          // Checked once per topic: a topic with a cached route has passed already.
          if (!routes.has(args) && !isPublishableTopic(args)) {
            violate(
              c,
              `PUB topic ${JSON.stringify(args.slice(0, 64))} is not printable ASCII (0x21–0x7e only)`
            )
            return false
          }
          const body = decodeBodyAt(buf, start, end)
          if (body instanceof WireError) {
            violate(c, `${body.reason}: ${body.detail}`)
            return false
          }
          published++
          // Only `payload` and `type` survive; id, ts and topic are the broker's (anti-spoofing, §1.4).
          const payload = body.payload
          const type = body.type
          fanOut(
            args,
            typeof type === "string" ? type : "",
            typeof payload === "object" && payload !== null && !Array.isArray(payload)
              ? JSON.stringify(payload)
              : "{}",
            c
          )
          return true
        }
        case "EVT":
          violate(c, "EVT from a client")
          return false
        case "BYE":
          forget(c)
          c.socket.end()
          return false
      }
    }

    const onConnection = (socket: Socket) => {
      if (conns.size >= maxConnections) {
        refused++
        if (refused <= 10 || refused % 1000 === 0)
          log(
            Effect.logWarning(
              `bus: ${maxConnections} clients already connected; connection refused (total refused ${refused})`
            )
          )
        socket.on("error", () => undefined)
        socket.destroy()
        return
      }
      const c: Conn = {
        socket,
        decoder: new Decoder(),
        patterns: new Set(),
        name: "<unknown>",
        queue: [],
        queueBytes: 0,
        dropped: 0,
        scheduled: false,
        closed: false
      }
      conns.add(c)
      const sink = (verb: Verb, args: string, buf: Buffer, start: number, end: number) =>
        handle(c, verb, args, buf, start, end)
      socket.on("data", (chunk: Buffer) => {
        if (c.closed) return
        // Nothing a client sends may escape a socket callback (it would end the process): any exception
        // while handling its frames is that connection's protocol violation.
        try {
          const err = c.decoder.feed(chunk, sink)
          if (err !== undefined && !c.closed) violate(c, `${err.reason}: ${err.detail}`)
        } catch (e) {
          if (!c.closed) violate(c, `frame handling failed: ${String(e).slice(0, 120)}`)
        }
      })
      socket.on("drain", () => flushGuarded(c))
      socket.on("error", () => undefined)
      socket.on("close", () => forget(c))
    }

    let boundIno: number | undefined
    const server: Server = yield* Effect.acquireRelease(
      Effect.async<Server, BusError>((resume) => {
        // A stale socket file is taken over without probing (spec/bus.md §1.1).
        try {
          unlinkSync(options.socketPath)
        } catch {
          // no stale socket
        }
        const s = createServer(onConnection)
        s.once("error", (e) =>
          resume(
            Effect.fail(
              new BusError({
                op: "listen",
                message: `cannot listen on ${options.socketPath}: ${e.message} (does the directory exist and is it writable?)`,
                cause: e
              })
            )
          )
        )
        s.listen(options.socketPath, () => {
          try {
            boundIno = statSync(options.socketPath).ino
          } catch {
            boundIno = undefined
          }
          resume(Effect.succeed(s))
        })
      }),
      (s) =>
        Effect.sync(() => {
          // The broker sends no BYE on shutdown; clients see EOF and reconnect (spec/bus.md §1.1).
          for (const c of conns) c.socket.destroy()
          conns.clear()
          s.close()
          // Remove the file only if it is still ours: a second broker may have taken the path over.
          try {
            if (boundIno === undefined || statSync(options.socketPath).ino === boundIno)
              unlinkSync(options.socketPath)
          } catch {
            // already gone
          }
        })
    )
    void server
    yield* Effect.try({
      try: () => chmodSync(options.socketPath, 0o660),
      catch: (e) =>
        new BusError({ op: "chmod", message: `cannot chmod ${options.socketPath}: ${String(e)}`, cause: e })
    })
    if (options.group !== "") {
      const gid = lookupGroupId(options.group)
      if (gid === undefined) {
        yield* Effect.logDebug(`bus: group ${options.group} not found; the socket keeps the process group`)
      } else {
        yield* Effect.try(() => chownSync(options.socketPath, -1, gid)).pipe(
          Effect.catchAll((e) =>
            Effect.logDebug(
              `bus: cannot chown the socket to group ${options.group}: ${String(e.error)}; keeping the process group`
            )
          )
        )
      }
    }
    if (options.heartbeatSeconds > 0) {
      yield* Effect.sync(() => {
        const now = Date.now()
        const uptime = Math.round(now - started) / 1000
        // `uptime_s` is the documented name, `uptime_sec` what the Python original sends: both, for both readers.
        fanOut(
          "system.bus.health",
          "bus.health",
          JSON.stringify({ pid: process.pid, uptime_s: uptime, uptime_sec: uptime, ts: now / 1000 }),
          undefined
        )
      }).pipe(Effect.repeat(Schedule.spaced(`${options.heartbeatSeconds} seconds`)), Effect.forkScoped)
    }
    return {
      stats: Effect.sync(() => {
        let queuedBytes = 0
        let socketBytes = 0
        for (const c of conns) {
          queuedBytes += c.queueBytes
          socketBytes += c.socket.writableLength
        }
        return {
          connections: conns.size,
          refused,
          published,
          enqueued,
          dropped,
          violations,
          routes: routes.size,
          queuedBytes,
          socketBytes
        }
      })
    } satisfies BrokerHandle
  })

/**
 * The `decnet bus` process body: serve until interrupted. Run it under `NodeRuntime.runMain`, which turns
 * SIGTERM/SIGINT into interruption, so the scope closes clients and removes the socket file.
 */
export const runBrokerMain = (options: {
  socketPath?: string
  group: string
  heartbeatSeconds: number
  maxConnections?: number
}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const socketPath = yield* resolveSocketPath(options.socketPath)
      const { system } = yield* DecnetConfig
      // Like the original, only a directory under the user's home is created; /run/decnet belongs to systemd.
      if (isUnder(socketPath, system.home))
        yield* Effect.try({
          try: () => mkdirSync(dirname(socketPath), { recursive: true }),
          catch: (e) =>
            new BusError({
              op: "listen",
              message: `cannot create ${dirname(socketPath)}: ${String(e)}`,
              cause: e
            })
        })
      const broker = yield* serveBroker({
        socketPath,
        group: options.group,
        heartbeatSeconds: options.heartbeatSeconds,
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections })
      })
      yield* Effect.logInfo(`bus: listening on ${socketPath}`)
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(broker.stats, (s) =>
          Effect.logInfo(
            `bus: shutting down (published ${s.published}, delivered to queues ${s.enqueued}, dropped ${s.dropped}, violations ${s.violations})`
          )
        )
      )
      return yield* Effect.never
    })
  )
