/**
 * The `decnet bus` broker core (spec/bus.md §1.1–§1.5): one UNIX socket, per-connection subscription
 * sets, broker-built envelopes, fan-out encoded once per event, drop-oldest per-subscriber queues
 * flushed in one corked batch, and a `system.bus.health` heartbeat.
 * The per-frame path is plain synchronous code inside socket callbacks; only logging goes through Effect.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { homedir } from "node:os"
import { dirname, relative } from "node:path"
import { Effect, Runtime, Schedule, type Scope } from "effect"
import { BusError } from "./Bus.js"
import { resolveSocketPath } from "./SocketPath.js"
import { isValidPattern, matches } from "./Topics.js"
import {
  Decoder,
  decodeBodyAt,
  encodeTrusted,
  envelopeText,
  newEventId,
  type Verb,
  WireError
} from "./Wire.js"

/** Frames queued per subscriber before the oldest is dropped (spec/bus.md §1.4). */
export const QUEUE_LIMIT = 1024
/** Distinct topics whose subscriber lists are cached (cleared when full or when any pattern set changes). */
const ROUTE_CACHE_LIMIT = 4096

interface Conn {
  readonly socket: Socket
  readonly decoder: Decoder
  readonly patterns: Set<string>
  name: string
  queue: Array<Buffer>
  dropped: number
  scheduled: boolean
  closed: boolean
}

interface Route {
  readonly quoted: string
  readonly conns: ReadonlyArray<Conn>
}

export interface BrokerOptions {
  readonly socketPath: string
  /** Group to own the socket file; `""` keeps the process group. */
  readonly group: string
  /** Seconds between `system.bus.health` beats; 0 or less disables the heartbeat. */
  readonly heartbeatSeconds: number
}

export interface BrokerStats {
  readonly connections: number
  /** PUB frames accepted. */
  readonly published: number
  /** EVT frames handed to subscriber queues. */
  readonly enqueued: number
  /** EVT frames dropped (drop-oldest) because a subscriber did not keep up. */
  readonly dropped: number
  readonly violations: number
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
    let violations = 0
    let published = 0
    let enqueued = 0
    let dropped = 0
    // topic → subscribed connections; rebuilt lazily after any SUB/UNSUB/close that changes patterns.
    let routes = new Map<string, Route>()

    const routeFor = (topic: string): Route => {
      const hit = routes.get(topic)
      if (hit !== undefined) return hit
      const matched: Array<Conn> = []
      for (const c of conns) {
        if (c.closed) continue
        for (const p of c.patterns)
          if (matches(p, topic)) {
            matched.push(c)
            break
          }
      }
      if (routes.size >= ROUTE_CACHE_LIMIT) routes = new Map()
      const route = { quoted: JSON.stringify(topic), conns: matched }
      routes.set(topic, route)
      return route
    }

    const flush = (c: Conn) => {
      c.scheduled = false
      if (c.closed || c.queue.length === 0) return
      // Only write while the kernel takes data; otherwise frames wait (and age out) in the bounded queue.
      if (c.socket.writableNeedDrain) return
      const batch = c.queue
      c.queue = []
      const first = batch[0]
      if (batch.length === 1 && first !== undefined) {
        c.socket.write(first)
        return
      }
      c.socket.cork()
      for (const b of batch) c.socket.write(b)
      c.socket.uncork()
    }

    const enqueue = (c: Conn, frame: Buffer) => {
      if (c.queue.length >= QUEUE_LIMIT) {
        c.queue.shift()
        c.dropped++
        dropped++
        if (c.dropped === 1 || c.dropped % 10_000 === 0)
          log(
            Effect.logWarning(
              `bus: subscriber ${c.name} is not keeping up; ${c.dropped} events dropped (oldest first)`
            )
          )
      }
      c.queue.push(frame)
      enqueued++
      if (!c.scheduled) {
        c.scheduled = true
        queueMicrotask(() => flush(c))
      }
    }

    const fanOut = (topic: string, type: string, payloadJson: string, origin: Conn | undefined) => {
      const route = routeFor(topic)
      const targets = route.conns
      if (targets.length === 0 || (targets.length === 1 && targets[0] === origin)) return
      const frame = encodeTrusted(
        `EVT ${topic}`,
        envelopeText(newEventId(), route.quoted, type, Date.now() / 1000, payloadJson)
      )
      if (frame === undefined) {
        log(Effect.logError(`bus: dropping event on ${topic}: the envelope exceeds 1 MiB`))
        return
      }
      for (const c of targets) if (c !== origin && !c.closed) enqueue(c, frame)
    }

    const forget = (c: Conn) => {
      if (c.closed) return
      c.closed = true
      c.queue = []
      conns.delete(c)
      if (c.patterns.size > 0) routes = new Map()
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
            c.patterns.add(args)
            routes = new Map()
          }
          return true
        case "UNSUB":
          if (c.patterns.delete(args)) routes = new Map()
          return true
        case "PUB": {
          if (args.length === 0) {
            violate(c, "empty PUB topic")
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
      const c: Conn = {
        socket,
        decoder: new Decoder(),
        patterns: new Set(),
        name: "<unknown>",
        queue: [],
        dropped: 0,
        scheduled: false,
        closed: false
      }
      conns.add(c)
      const sink = (verb: Verb, args: string, buf: Buffer, start: number, end: number) =>
        handle(c, verb, args, buf, start, end)
      socket.on("data", (chunk: Buffer) => {
        if (c.closed) return
        const err = c.decoder.feed(chunk, sink)
        if (err !== undefined && !c.closed) violate(c, `${err.reason}: ${err.detail}`)
      })
      socket.on("drain", () => flush(c))
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
      stats: Effect.sync(() => ({ connections: conns.size, published, enqueued, dropped, violations }))
    } satisfies BrokerHandle
  })

/**
 * The `decnet bus` process body: serve until interrupted. Run it under `NodeRuntime.runMain`, which turns
 * SIGTERM/SIGINT into interruption, so the scope closes clients and removes the socket file.
 */
export const runBrokerMain = (options: { socketPath?: string; group: string; heartbeatSeconds: number }) =>
  Effect.scoped(
    Effect.gen(function* () {
      const socketPath = yield* resolveSocketPath(options.socketPath)
      // Like the original, only a directory under the user's home is created; /run/decnet belongs to systemd.
      if (isUnder(socketPath, homedir()))
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
        heartbeatSeconds: options.heartbeatSeconds
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
