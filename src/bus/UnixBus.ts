/**
 * The unix backend of the `Bus` tag: a client of the `decnet bus` broker (spec/bus.md §1.7, with the
 * issue's fixes). Publishing only appends to a bounded outbound buffer flushed in one write per tick;
 * subscriptions are scoped Streams over drop-oldest queues; the connection comes back by itself after a
 * broker restart (exponential backoff on a Schedule) and every live pattern is subscribed again. A
 * connection the broker closes right away does not reset the backoff, so a refused client backs off.
 */
import { connect, type Socket } from "node:net"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Runtime,
  Schedule,
  type Scope,
  type Stream
} from "effect"
import {
  Bus,
  BusError,
  type BusEvent,
  type BusService,
  type ConnectionState,
  makeSubscriptionQueue,
  type Payload,
  type SubscriptionQueue,
  subscriptionStream
} from "./Bus.js"
import { matches, publishTopicProblem, validatePattern } from "./Topics.js"
import {
  Decoder,
  decodeBodyAt,
  eventFromBody,
  FrameWriter,
  jsonTooDeep,
  MAX_JSON_DEPTH,
  MAX_PATTERNS_PER_CONNECTION,
  newEventId,
  type Verb,
  WireError
} from "./Wire.js"

/**
 * Events buffered per subscription; the oldest is dropped (and counted) when it is full. The bound is in
 * events, not bytes: a subscription that stops consuming can hold 1024 × the largest event (≈1 MiB each).
 */
export const SUBSCRIPTION_QUEUE_SIZE = 1024
/** Outbound bytes held while the socket is busy; publishes beyond it are dropped and counted. */
export const OUTBOUND_LIMIT_BYTES = 8 * 1024 * 1024
/** Reconnect backoff: 50 ms doubling, capped at 1 s, jittered so restarted brokers are not stampeded. */
export const RECONNECT_SCHEDULE: Schedule.Schedule<unknown, unknown> = Schedule.exponential("50 millis").pipe(
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.jittered
)
/** A connect that neither succeeds nor fails by then (a wedged broker's full backlog) counts as failed. */
const CONNECT_TIMEOUT = Duration.seconds(2)
/**
 * A session must stay up this long to count as a success that resets the reconnect backoff; a broker
 * that closes the connection sooner (refused, or a SUB it rejects) is retried on the backoff schedule.
 */
export const STABLE_SESSION = Duration.seconds(1)
/** How long closing waits for the BYE and pending frames to leave before cutting the socket. */
const CLOSE_TIMEOUT = Duration.seconds(2)
const CACHE_LIMIT = 4096

export interface UnixBusOptions {
  readonly socketPath: string
  /** The HELLO name shown in broker logs; default `decnet-bus-client[<pid>]`. */
  readonly name?: string
  readonly queueSize?: number
  readonly outboundLimitBytes?: number
  readonly reconnect?: Schedule.Schedule<unknown, unknown>
}

/** Counters of events this client lost, by cause (all at-most-once drops are counted somewhere). */
export interface UnixBusStats {
  readonly published: number
  readonly droppedDisconnected: number
  readonly droppedClosed: number
  readonly droppedOutboundFull: number
  readonly droppedSubscriberFull: number
  /** EVT frames whose body was not a decodable envelope (invalid JSON, not an object, too deep); skipped. */
  readonly droppedUndecodable: number
  readonly reconnects: number
}

export interface UnixBusService extends BusService {
  readonly stats: Effect.Effect<UnixBusStats>
}

interface LocalSub {
  readonly pattern: string
  readonly queue: SubscriptionQueue
  drops: number
}

export const makeUnixBus = (options: UnixBusOptions): Effect.Effect<UnixBusService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const socketPath = options.socketPath
    const name = options.name ?? `decnet-bus-client[${process.pid}]`
    const queueSize = options.queueSize ?? SUBSCRIPTION_QUEUE_SIZE
    const outboundLimit = options.outboundLimitBytes ?? OUTBOUND_LIMIT_BYTES
    const runtime = yield* Effect.runtime<never>()
    const log = Runtime.runFork(runtime)

    // Connection state. Mutated only from socket callbacks and the connection fiber, all on one thread.
    let socket: Socket | undefined
    let state: ConnectionState = "connecting"
    let closed = false
    const writer = new FrameWriter()
    let flushScheduled = false
    const subs = new Map<string, Set<LocalSub>>()
    let routes = new Map<string, ReadonlyArray<LocalSub>>()
    const validTopics = new Set<string>()
    const quotedTopics = new Map<string, string>()
    const headers = new Map<string, string>()
    // Client-side ids only need to be unique (the broker replaces them): a random prefix and a counter.
    const idPrefix = newEventId().slice(0, 16)
    let idCounter = 0
    const counters = {
      published: 0,
      droppedDisconnected: 0,
      droppedClosed: 0,
      droppedOutboundFull: 0,
      droppedSubscriberFull: 0,
      droppedUndecodable: 0,
      reconnects: 0
    }
    // One WARN per outage (then DEBUG), one WARN after close (then DEBUG).
    let warnedDisconnected = false

    const flush = () => {
      flushScheduled = false
      const s = socket
      if (s === undefined || s.writableNeedDrain) return
      const slices = writer.take()
      const first = slices[0]
      if (first === undefined) return
      if (slices.length === 1) {
        s.write(first)
        return
      }
      s.cork()
      for (const b of slices) s.write(b)
      s.uncork()
    }
    const scheduleFlush = () => {
      if (!flushScheduled) {
        flushScheduled = true
        queueMicrotask(flush)
      }
    }
    const control = (header: string) => {
      writer.append(header, "")
      scheduleFlush()
    }

    const routesFor = (topic: string): ReadonlyArray<LocalSub> => {
      const hit = routes.get(topic)
      if (hit !== undefined) return hit
      const out: Array<LocalSub> = []
      for (const [pattern, set] of subs) {
        if (!matches(pattern, topic)) continue
        for (const s of set) out.push(s)
      }
      if (routes.size >= CACHE_LIMIT) routes = new Map()
      routes.set(topic, out)
      return out
    }

    const deliver = (sub: LocalSub, events: Array<BusEvent>) => {
      const size = Option.getOrElse(sub.queue.unsafeSize(), () => 0)
      const over = size + events.length - queueSize
      if (over > 0) {
        const before = sub.drops
        sub.drops += over
        counters.droppedSubscriberFull += over
        if (before === 0 || Math.floor(before / 10_000) !== Math.floor(sub.drops / 10_000))
          log(
            Effect.logWarning(
              `bus: subscription ${sub.pattern} is not keeping up; ${sub.drops} events dropped (oldest first)`
            )
          )
      }
      // The sliding mailbox drops its oldest itself, and unsafeOffer runs no fiber per chunk.
      for (const e of events) sub.queue.unsafeOffer(e)
    }

    const onData = (s: Socket, decoder: Decoder) => {
      // Per-chunk state for the sink below: events grouped by local subscription, delivered once per chunk.
      const acc: { batches: Map<LocalSub, Array<BusEvent>> | undefined; bad: string | undefined } = {
        batches: undefined,
        bad: undefined
      }
      const sink = (verb: Verb, args: string, buf: Buffer, start: number, end: number): boolean => {
        if (verb === "EVT") {
          const targets = routesFor(args)
          if (targets.length === 0) return true
          const body = decodeBodyAt(buf, start, end)
          if (body instanceof WireError) {
            // The framing is intact (the length prefix delimits the body), so only this event is lost.
            counters.droppedUndecodable++
            if (counters.droppedUndecodable === 1 || counters.droppedUndecodable % 1000 === 0)
              log(
                Effect.logWarning(
                  `bus: undecodable event on ${args} skipped (${body.reason}: ${body.detail}; ${counters.droppedUndecodable} so far)`
                )
              )
            return true
          }
          const event = eventFromBody(args, body)
          const batches = (acc.batches ??= new Map())
          for (const t of targets) {
            const list = batches.get(t)
            if (list === undefined) batches.set(t, [event])
            else list.push(event)
          }
          return true
        }
        if (verb === "BYE") {
          acc.bad = "BYE"
          return false
        }
        log(Effect.logDebug(`bus: unexpected ${verb} frame from the broker skipped`))
        return true
      }
      const onChunk = (chunk: Buffer) => {
        const err = decoder.feed(chunk, sink)
        const batches = acc.batches
        const bad = err !== undefined ? `${err.reason}: ${err.detail}` : acc.bad
        acc.batches = undefined
        acc.bad = undefined
        if (batches !== undefined) for (const [sub, events] of batches) deliver(sub, events)
        if (bad !== undefined) {
          // A broker that speaks garbage is treated like one that went away: drop the link and reconnect.
          if (bad !== "BYE") log(Effect.logWarning(`bus: bad frame from the broker (${bad}); reconnecting`))
          s.destroy()
        }
      }
      return (chunk: Buffer) => {
        if (socket !== s) return
        // Nothing the broker sends may escape a socket callback (it would end the process).
        try {
          onChunk(chunk)
        } catch (e) {
          acc.batches = undefined
          acc.bad = undefined
          log(Effect.logWarning(`bus: frame handling failed (${String(e).slice(0, 120)}); reconnecting`))
          s.destroy()
        }
      }
    }

    const attach = (s: Socket) => {
      const decoder = new Decoder()
      socket = s
      state = "connected"
      warnedDisconnected = false
      writer.clear()
      control(`HELLO ${name}`)
      // Resubscribe everything still alive: the broker kept nothing across the restart.
      for (const pattern of subs.keys()) control(`SUB ${pattern}`)
      s.on("data", onData(s, decoder))
      s.on("drain", flush)
      s.once("close", () => detach(s))
    }

    const detach = (s: Socket) => {
      if (socket !== s) return
      socket = undefined
      state = closed ? "closed" : "disconnected"
      // Frames still in our buffer die with the connection (at-most-once); count them as lost.
      counters.droppedDisconnected += writer.clear()
    }

    const connectOnce: Effect.Effect<Socket, BusError> = Effect.async<Socket, BusError>((resume) => {
      state = "connecting"
      const s = connect(socketPath)
      const onError = (e: Error) => {
        s.destroy()
        resume(
          Effect.fail(
            new BusError({
              op: "connect",
              message: `cannot reach the bus broker at ${socketPath}: ${e.message} (is \`decnet bus\` running?)`,
              cause: e
            })
          )
        )
      }
      s.once("error", onError)
      s.once("connect", () => {
        s.off("error", onError)
        s.on("error", () => undefined)
        resume(Effect.succeed(s))
      })
      return Effect.sync(() => s.destroy())
    }).pipe(
      Effect.timeoutFail({
        duration: CONNECT_TIMEOUT,
        onTimeout: () => new BusError({ op: "connect", message: `connecting to ${socketPath} timed out` })
      }),
      Effect.tapError(() =>
        Effect.sync(() => {
          if (!closed) state = "disconnected"
        })
      )
    )

    /** Resolves once `s` is no longer the live connection (closed by either side). */
    const closedSignal = (s: Socket): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        if (socket !== s || s.destroyed) {
          detach(s)
          resume(Effect.void)
          return
        }
        s.once("close", () => resume(Effect.void))
      })

    const firstAttempt = yield* Deferred.make<void>()
    let failures = 0
    const attempt = connectOnce.pipe(
      Effect.tapError((e) => {
        failures++
        return Effect.zipRight(
          Deferred.succeed(firstAttempt, undefined),
          failures === 1
            ? Effect.logWarning(`bus: ${e.message}; retrying with backoff`)
            : Effect.logDebug(`bus: ${e.message}`)
        )
      })
    )
    let sessions = 0
    // Consecutive sessions that the broker closed before STABLE_SESSION: logged once, then at DEBUG.
    let shortSessions = 0
    /** Connect and serve one session; fails (so the caller's retry backs off) if it could not connect or was short. */
    const session: Effect.Effect<void, BusError> = Effect.gen(function* () {
      const s = yield* attempt
      if (closed) {
        s.destroy()
        return
      }
      const since = yield* Clock.currentTimeMillis
      // attach() runs before the layer is handed out, so a publish right after construction is sent.
      yield* Effect.sync(() => attach(s))
      yield* Deferred.succeed(firstAttempt, undefined)
      if (sessions > 0) {
        counters.reconnects++
        const message = `bus: reconnected to ${socketPath}; resubscribed ${subs.size} patterns`
        yield* shortSessions === 0 ? Effect.logInfo(message) : Effect.logDebug(message)
      }
      sessions++
      failures = 0
      yield* closedSignal(s)
      if (closed) return
      const lived = (yield* Clock.currentTimeMillis) - since
      if (lived < Duration.toMillis(STABLE_SESSION)) {
        shortSessions++
        const message = `bus: the broker at ${socketPath} closed the connection after ${lived} ms; backing off`
        yield* shortSessions === 1 ? Effect.logWarning(message) : Effect.logDebug(message)
        return yield* new BusError({ op: "connect", message })
      }
      shortSessions = 0
      yield* Effect.logWarning(`bus: connection to ${socketPath} lost; reconnecting`)
    })
    // A session that stayed up ends the retry, so the next one starts with a fresh backoff.
    const loop = Effect.gen(function* () {
      while (!closed) yield* Effect.retry(session, options.reconnect ?? RECONNECT_SCHEDULE)
    })
    yield* Effect.forkScoped(loop)
    // The layer is ready once the first attempt has an answer: connected, or reconnecting in the background.
    yield* Deferred.await(firstAttempt)

    // Closing: BYE after whatever is pending, then wait (bounded) for the socket to finish; end every stream.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closed = true
        const s = socket
        if (s !== undefined) {
          writer.append("BYE", "")
          const slices = writer.take()
          yield* Effect.async<void>((resume) => {
            s.once("close", () => resume(Effect.void))
            s.cork()
            for (const b of slices) s.write(b)
            s.uncork()
            s.end()
          }).pipe(
            // Finalizers run uninterruptibly; without this the timeout could never cut a peer that stopped reading.
            Effect.interruptible,
            Effect.timeout(CLOSE_TIMEOUT),
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => s.destroy()))
          )
        }
        socket = undefined
        state = "closed"
        const all = [...subs.values()].flatMap((set) => [...set])
        subs.clear()
        routes = new Map()
        yield* Effect.forEach(all, (sub) => sub.queue.shutdown, { discard: true })
      })
    )

    const dropped = (topic: string, why: "closed" | "disconnected" | "full"): Effect.Effect<void> => {
      if (why === "closed") {
        counters.droppedClosed++
        return counters.droppedClosed === 1
          ? Effect.logWarning(`bus: publish after close dropped (${topic})`)
          : Effect.logDebug(`bus: publish after close dropped (${topic})`)
      }
      if (why === "full") {
        counters.droppedOutboundFull++
        return counters.droppedOutboundFull === 1 || counters.droppedOutboundFull % 10_000 === 0
          ? Effect.logWarning(
              `bus: outbound buffer full; ${counters.droppedOutboundFull} publishes dropped (${topic})`
            )
          : Effect.void
      }
      counters.droppedDisconnected++
      if (!warnedDisconnected) {
        warnedDisconnected = true
        return Effect.logWarning(
          `bus: not connected to ${socketPath}; dropping publishes until reconnected (${topic})`
        )
      }
      return Effect.logDebug(`bus: not connected; publish dropped (${topic})`)
    }

    const publish = (topic: string, payload: Payload, eventType = ""): Effect.Effect<void, BusError> =>
      Effect.suspend(() => {
        if (!validTopics.has(topic)) {
          const problem = publishTopicProblem(topic)
          if (problem !== undefined) return Effect.fail(new BusError({ op: "publish", message: problem }))
          if (validTopics.size >= CACHE_LIMIT) {
            validTopics.clear()
            quotedTopics.clear()
            headers.clear()
          }
          validTopics.add(topic)
          quotedTopics.set(topic, JSON.stringify(topic))
          headers.set(topic, `PUB ${topic}`)
        }
        if (closed) return dropped(topic, "closed")
        const local = routesFor(topic)
        if (local.length === 0 && socket === undefined) return dropped(topic, "disconnected")
        if (local.length === 0 && writer.pendingBytes >= outboundLimit) return dropped(topic, "full")
        let payloadJson: string
        try {
          payloadJson = JSON.stringify(payload)
        } catch (cause) {
          return Effect.fail(
            new BusError({
              op: "publish",
              message: `payload on ${topic} is not serializable: ${String(cause)}`,
              cause
            })
          )
        }
        // The broker refuses (and disconnects) a body deeper than MAX_JSON_DEPTH; the envelope is one level.
        if (jsonTooDeep(payloadJson, MAX_JSON_DEPTH - 1))
          return Effect.fail(
            new BusError({
              op: "publish",
              message: `payload on ${topic} nests deeper than ${MAX_JSON_DEPTH - 1} levels; flatten it`
            })
          )
        const id = idPrefix + (idCounter++).toString(16).padStart(16, "0")
        const ts = Date.now() / 1000
        // The broker never sends an event back to the connection that published it (spec/bus.md §1.5), so
        // this process's own subscriptions get it here, once: every part of a process that shares one
        // connection (`decnet up`: the API, the mutator, the reconciler) sees what the others publish, as
        // on the fake bus and on NATS (which echoes by default).
        if (local.length > 0) {
          const event: BusEvent = { v: 1, id, topic, type: eventType, ts, payload }
          for (const sub of local) deliver(sub, [event])
        }
        if (socket === undefined) return dropped(topic, "disconnected")
        if (writer.pendingBytes >= outboundLimit) return dropped(topic, "full")
        // The client envelope (the broker keeps only type and payload, §1.4), written in three parts.
        const head = `{"v":1,"id":"${id}","topic":${quotedTopics.get(topic) ?? JSON.stringify(topic)},"type":${eventType.length === 0 ? '""' : JSON.stringify(eventType)},"ts":${ts},"payload":`
        if (!writer.appendParts(headers.get(topic) ?? `PUB ${topic}`, head, payloadJson, "}"))
          return Effect.fail(
            new BusError({ op: "publish", message: `event on ${topic} exceeds the 1 MiB frame limit` })
          )
        counters.published++
        scheduleFlush()
        return Effect.void
      })

    const addSub = (sub: LocalSub) => {
      let set = subs.get(sub.pattern)
      if (set === undefined) {
        set = new Set()
        subs.set(sub.pattern, set)
        if (socket !== undefined) control(`SUB ${sub.pattern}`)
      }
      set.add(sub)
      routes = new Map()
    }
    const removeSub = (sub: LocalSub) => {
      const set = subs.get(sub.pattern)
      if (set === undefined || !set.delete(sub)) return
      routes = new Map()
      if (set.size > 0) return
      subs.delete(sub.pattern)
      // UNSUB only when no other local subscription still wants this pattern.
      if (socket !== undefined && !closed) control(`UNSUB ${sub.pattern}`)
    }

    const subscribe = (pattern: string): Effect.Effect<Stream.Stream<BusEvent>, BusError, Scope.Scope> =>
      Effect.gen(function* () {
        const valid = validatePattern(pattern)
        if (Either.isLeft(valid)) return yield* valid.left
        if (closed) return yield* new BusError({ op: "subscribe", message: "bus is closed" })
        const queue = yield* makeSubscriptionQueue(queueSize)
        const sub: LocalSub = { pattern, queue, drops: 0 }
        yield* Effect.acquireRelease(
          Effect.suspend(() =>
            // The broker closes a connection with more patterns than that; resubscribing would loop.
            !subs.has(pattern) && subs.size >= MAX_PATTERNS_PER_CONNECTION
              ? Effect.fail(
                  new BusError({
                    op: "subscribe",
                    message: `this client already subscribes ${MAX_PATTERNS_PER_CONNECTION} distinct patterns (the broker's limit); reuse a wider pattern`
                  })
                )
              : Effect.sync(() => addSub(sub))
          ),
          () => Effect.sync(() => removeSub(sub)).pipe(Effect.zipRight(queue.shutdown))
        )
        return subscriptionStream(queue)
      }).pipe(Effect.withSpan("UnixBus.subscribe", { attributes: { pattern } }))

    return {
      publish,
      subscribe,
      state: Effect.sync(() => (closed ? "closed" : state)),
      stats: Effect.sync(() => ({ ...counters }))
    } satisfies UnixBusService
  })

export const UnixBusLive = (options: UnixBusOptions): Layer.Layer<Bus> =>
  Layer.scoped(Bus, makeUnixBus(options))
