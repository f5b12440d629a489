/**
 * The `decnet bus` broker core (spec/bus.md §1.1–§1.5): one UNIX socket, per-connection subscription
 * sets, broker-built envelopes, fan-out encoded once per event, drop-oldest per-subscriber queues
 * flushed in one corked batch, and a `system.bus.health` heartbeat.
 */
import { chmodSync, unlinkSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { Effect, Either, Schedule } from "effect"
import { BusError } from "./Bus.js"
import { resolveSocketPath } from "./SocketPath.js"
import { isValidPattern, matches } from "./Topics.js"
import { Decoder, encodeFrame, envelopeJson, type Frame, makeEnvelope, parseBody } from "./Wire.js"

export const QUEUE_LIMIT = 1024

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

export interface BrokerOptions {
  readonly socketPath: string
  readonly group: string
  readonly heartbeatSeconds: number
}

const flush = (c: Conn) => {
  c.scheduled = false
  if (c.closed || c.queue.length === 0) return
  // Only write while the kernel takes data; otherwise frames wait (and age out) in the bounded queue.
  if (c.socket.writableNeedDrain) return
  const batch = c.queue
  c.queue = []
  c.socket.cork()
  for (const b of batch) c.socket.write(b)
  c.socket.uncork()
}

const enqueue = (c: Conn, frame: Buffer) => {
  if (c.queue.length >= QUEUE_LIMIT) {
    c.queue.shift()
    c.dropped++
    if (c.dropped === 1 || c.dropped % 1000 === 0)
      Effect.runFork(Effect.logWarning(`bus: subscriber ${c.name} queue full, ${c.dropped} events dropped`))
  }
  c.queue.push(frame)
  if (!c.scheduled) {
    c.scheduled = true
    queueMicrotask(() => flush(c))
  }
}

export const serveBroker = (options: BrokerOptions): Effect.Effect<void, BusError, import("effect").Scope.Scope> =>
  Effect.gen(function* () {
    const conns = new Set<Conn>()
    const started = Date.now()
    let violations = 0

    const fanOut = (topic: string, type: string, payload: Record<string, unknown>, origin: Conn | undefined) => {
      const json = envelopeJson(makeEnvelope(topic, payload, type))
      const frame = encodeFrame("EVT", topic, json)
      if (Either.isLeft(frame)) {
        Effect.runFork(Effect.logError(`bus: dropping oversize event on ${topic}`))
        return
      }
      for (const c of conns) {
        if (c === origin || c.closed) continue
        for (const p of c.patterns)
          if (matches(p, topic)) {
            enqueue(c, frame.right)
            break
          }
      }
    }

    const violate = (c: Conn, reason: string) => {
      violations++
      if (violations <= 10 || violations % 1000 === 0)
        Effect.runFork(Effect.logWarning(`bus: protocol violation from ${c.name}: ${reason} (total ${violations})`))
      c.closed = true
      conns.delete(c)
      c.socket.destroy()
    }

    const handle = (c: Conn, f: Frame): boolean => {
      switch (f.verb) {
        case "HELLO":
          c.name = f.args.length > 0 ? f.args : "<unknown>"
          return true
        case "SUB":
          if (!isValidPattern(f.args)) {
            violate(c, `invalid SUB pattern ${JSON.stringify(f.args.slice(0, 64))}`)
            return false
          }
          c.patterns.add(f.args)
          return true
        case "UNSUB":
          c.patterns.delete(f.args)
          return true
        case "PUB": {
          if (f.args.length === 0) {
            violate(c, "empty PUB topic")
            return false
          }
          const body = parseBody(f.body)
          if (Either.isLeft(body)) {
            violate(c, body.left.reason)
            return false
          }
          const payload = body.right.payload
          const p: Record<string, unknown> = {}
          if (typeof payload === "object" && payload !== null && !Array.isArray(payload))
            for (const [k, v] of Object.entries(payload)) p[k] = v
          const type = typeof body.right.type === "string" ? body.right.type : ""
          fanOut(f.args, type, p, c)
          return true
        }
        case "EVT":
          violate(c, "EVT from a client")
          return false
        case "BYE":
          c.closed = true
          conns.delete(c)
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
      socket.on("data", (chunk: Buffer) => {
        if (c.closed) return
        const r = c.decoder.push(chunk)
        if (Either.isLeft(r)) return violate(c, `${r.left.reason}: ${r.left.detail}`)
        for (const f of r.right) if (!handle(c, f)) return
      })
      socket.on("drain", () => flush(c))
      socket.on("error", () => undefined)
      socket.on("close", () => {
        c.closed = true
        conns.delete(c)
      })
    }

    const server: Server = yield* Effect.acquireRelease(
      Effect.async<Server, BusError>((resume) => {
        try {
          unlinkSync(options.socketPath)
        } catch {
          // no stale socket
        }
        const s = createServer(onConnection)
        s.once("error", (e) => resume(Effect.fail(new BusError({ op: "listen", message: String(e), cause: e }))))
        s.listen(options.socketPath, () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.sync(() => {
          for (const c of conns) c.socket.destroy()
          conns.clear()
          s.close()
          try {
            unlinkSync(options.socketPath)
          } catch {
            // already gone
          }
        })
    )
    void server
    yield* Effect.try({
      try: () => chmodSync(options.socketPath, 0o660),
      catch: (e) => new BusError({ op: "chmod", message: String(e), cause: e })
    })
    if (options.group !== "") {
      yield* Effect.logDebug(`bus: chown to group ${options.group} not implemented (group lookup); keeping process group`)
    }
    yield* Effect.sync(() =>
      fanOut("system.bus.health", "bus.health", { pid: process.pid, uptime_s: Math.round(Date.now() - started) / 1000, ts: Date.now() / 1000 }, undefined)
    ).pipe(Effect.repeat(Schedule.spaced(`${Math.max(0.1, options.heartbeatSeconds)} seconds`)), Effect.forkScoped)
  })

/**
 * The `decnet bus` process body: serve until interrupted. Run it under `NodeRuntime.runMain`, which turns
 * SIGTERM/SIGINT into interruption, so the scope closes clients and removes the socket file.
 */
export const runBrokerMain = (options: { socketPath?: string; group: string; heartbeatSeconds: number }) =>
  Effect.scoped(
    Effect.gen(function* () {
      const socketPath = yield* resolveSocketPath(options.socketPath)
      yield* serveBroker({ socketPath, group: options.group, heartbeatSeconds: options.heartbeatSeconds })
      yield* Effect.logInfo(`bus: listening on ${socketPath}`)
      return yield* Effect.never
    })
  )
