// `decnet bus`: run the broker; `decnet bus pub` / `decnet bus sub` let an operator poke at and watch the
// bus. The broker and the bus backends (node:net, nats) are imported inside the handlers so that building
// the command tree stays cheap. Logs go to stderr, so `sub --json` output on stdout stays clean.
import { Args, Command, Options } from "@effect/cli"
import { Console, Data, Effect, Layer, Logger, Option, Schema, Stream } from "effect"
import { type BusEvent, Payload } from "../bus/Bus.js"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { DecnetLogger } from "../logging/DecnetLogger.js"

// Log lines (RFC 5424, stderr; bin.ts installed the logger) name the broker "bus" and the operator tools
// "bus-cli"; stdout carries only `sub` output. Removing the pretty logger too keeps that true even if the
// runner ever adds it back.
const logTo = (component: string) =>
  Layer.merge(DecnetLogger.named(component), Logger.remove(Logger.prettyLoggerDefault))

export class BusCliError extends Data.TaggedError("BusCliError")<{ readonly message: string }> {}

const socket = Options.text("socket").pipe(
  Options.withAlias("s"),
  Options.withDescription(
    "broker socket (default: $DECNET_BUS_SOCKET, /run/decnet/bus.sock, ~/.decnet/bus.sock)"
  ),
  Options.optional
)
const group = Options.text("group").pipe(
  Options.withAlias("g"),
  Options.withDescription(
    'group that owns the socket file (default: $DECNET_BUS_GROUP, decnet); "" keeps the process group'
  ),
  Options.optional
)
const heartbeat = Options.integer("heartbeat").pipe(
  Options.withDescription("seconds between system.bus.health events (0 disables)"),
  Options.withDefault(10)
)

// Same default as MAX_CONNECTIONS in src/bus/Broker.ts (not imported: the broker loads only in the handler).
const maxConnections = Options.integer("max-connections").pipe(
  Options.withDescription("simultaneous clients served; further connections are closed at once"),
  Options.withDefault(1024)
)

const root = Command.make(
  "bus",
  { socket, group, heartbeat, maxConnections },
  ({ socket, group, heartbeat, maxConnections }) =>
    Effect.gen(function* () {
      if (maxConnections < 1)
        return yield* new BusCliError({ message: "--max-connections must be at least 1" })
      const { bus } = yield* DecnetConfig
      const { runBrokerMain } = yield* Effect.promise(() => import("../bus/Broker.js"))
      yield* runBrokerMain({
        ...Option.match(socket, { onNone: () => ({}), onSome: (socketPath) => ({ socketPath }) }),
        group: Option.getOrElse(group, () => bus.group),
        heartbeatSeconds: heartbeat,
        maxConnections
      })
    }).pipe(Effect.provide(logTo("bus")))
)

const isPayload = Schema.is(Payload)

const parsePayload = (text: string): Effect.Effect<Payload, BusCliError> =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: (e) =>
      new BusCliError({
        message: `the payload is not valid JSON (${e instanceof Error ? e.message : String(e)}); pass one object, e.g. '{"key":"value"}'`
      })
  }).pipe(
    Effect.filterOrFail(
      isPayload,
      () =>
        new BusCliError({
          message: `the payload must be a JSON object such as '{"key":"value"}', not ${text.slice(0, 40)}`
        })
    )
  )

/** The env-selected bus in the current scope; a unix bus that cannot reach its broker is an error here. */
const openBus = (clientName: string) =>
  Effect.gen(function* () {
    const { socket } = yield* root
    const { makeBus } = yield* Effect.promise(() => import("../bus/BusLive.js"))
    const bus = yield* makeBus({
      clientName,
      ...Option.match(socket, { onNone: () => ({}), onSome: (socketPath) => ({ socketPath }) })
    })
    const state = yield* bus.state
    if (state === "disconnected" || state === "connecting")
      return yield* new BusCliError({
        message:
          "cannot reach the bus broker (is `decnet bus` running, and is DECNET_BUS_SOCKET/--socket the same path?)"
      })
    if (state === "closed")
      yield* Effect.logWarning("the bus is disabled (DECNET_BUS_ENABLED=false); nothing is sent or received")
    return bus
  })

const topic = Args.text({ name: "topic" }).pipe(Args.withDescription("e.g. attacker.observed"))
const payloadArg = Args.text({ name: "json" }).pipe(Args.withDescription("the payload, one JSON object"))
const eventType = Options.text("type").pipe(
  Options.withDescription("the envelope type"),
  Options.withDefault("")
)

const pub = Command.make("pub", { topic, json: payloadArg, type: eventType }, ({ topic, json, type }) =>
  Effect.scoped(
    Effect.gen(function* () {
      const payload = yield* parsePayload(json)
      const bus = yield* openBus(`decnet-bus-pub[${process.pid}]`)
      yield* bus.publish(topic, payload, type)
      // Leaving the scope flushes the frame and says BYE before the process exits.
    })
  ).pipe(Effect.provide(logTo("bus-cli")))
).pipe(Command.withDescription("publish one event and exit"))

const pattern = Args.text({ name: "pattern" }).pipe(
  Args.withDescription("'*' matches one token, '>' the rest, e.g. 'attacker.>'")
)
const json = Options.boolean("json").pipe(Options.withDescription("one JSON envelope per line"))
const count = Options.integer("count").pipe(Options.withDescription("exit after N events"), Options.optional)

// C0 and C1 controls and DEL: a publisher chooses `type` (and, over NATS, the topic), and an operator
// reads this line in a terminal, so an escape sequence must arrive as text, never as a command.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
const printable = (s: string) =>
  s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** One human-readable line per event; `payload` is JSON, which escapes controls already. */
export const humanLine = (e: BusEvent) =>
  `${new Date(e.ts * 1000).toISOString()} ${printable(e.topic)} ${e.type.length > 0 ? printable(e.type) : "-"} ${JSON.stringify(e.payload)}`

const sub = Command.make("sub", { pattern, json, count }, ({ pattern, json, count }) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { envelopeJson } = yield* Effect.promise(() => import("../bus/Wire.js"))
      const bus = yield* openBus(`decnet-bus-sub[${process.pid}]`)
      const stream = yield* bus.subscribe(pattern)
      yield* Effect.logInfo(`subscribed to ${pattern}; waiting for events`)
      const limited = Option.match(count, {
        onNone: () => stream,
        onSome: (n) => Stream.take(stream, Math.max(0, n))
      })
      yield* Stream.runForEach(limited, (e) => Console.log(json ? envelopeJson(e) : humanLine(e)))
    })
  ).pipe(Effect.provide(logTo("bus-cli")))
).pipe(Command.withDescription("print events matching a pattern as they arrive"))

export const bus = root.pipe(
  Command.withDescription("run the bus broker (host-local pub/sub over a UNIX socket)"),
  Command.withSubcommands([pub, sub])
)
