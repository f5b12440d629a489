/**
 * Where events go and how an emulator writes one. The runtime makes one `Emitter` per connection
 * (decky, service and peer already filled in); every event becomes one HoneypotEvent in the
 * `EventSink`: an RFC 5424 line on stdout in a decky process, straight into the pipeline in-process,
 * into memory in tests. Event times come from Effect's `Clock`, so `TestClock` drives them.
 */
import { Clock, Context, Effect, Either, Layer } from "effect"
import { encodeEventLine, type HoneypotEvent } from "../../logging/HoneypotEvent.js"
import { Severity, UNKNOWN_IP } from "../../logging/Rfc5424.js"
import type { ServiceEvents, TaggedEvent } from "./Events.js"

/** Where events go. */
export class EventSink extends Context.Tag("decnet/honeypots/EventSink")<
  EventSink,
  { readonly write: (event: HoneypotEvent) => Effect.Effect<void> }
>() {}

/** Production sink: one RFC 5424 line per event on stdout (the collector reads container stdout). */
export const EventSinkStdout = Layer.succeed(EventSink, {
  write: (event) => Effect.sync(() => void process.stdout.write(`${encodeEventLine(event)}\n`))
})

/** Test sink: keeps every event's line in memory. */
export class MemorySink extends Context.Tag("decnet/honeypots/MemorySink")<
  MemorySink,
  {
    /** A snapshot of the lines written so far (later writes do not change it). */
    readonly lines: Effect.Effect<ReadonlyArray<string>>
    readonly clear: Effect.Effect<void>
  }
>() {}

/**
 * Append-only: a write is one `push` (fuzz runs write tens of thousands of lines; copying the array
 * per line made them quadratic). Reads copy, so a snapshot never changes under a test.
 */
export const EventSinkMemory: Layer.Layer<EventSink | MemorySink> = Layer.effectContext(
  Effect.sync(() => {
    const lines: Array<string> = []
    return Context.make(EventSink, {
      write: (event: HoneypotEvent) => Effect.sync(() => void lines.push(encodeEventLine(event)))
    }).pipe(
      Context.add(MemorySink, {
        lines: Effect.sync(() => lines.slice()),
        clear: Effect.sync(() => {
          lines.length = 0
        })
      })
    )
  })
)

/** The other end of a connection. */
export interface Peer {
  readonly ip: string
  /** null for an event about a source rather than one connection (an aggregate of refusals). */
  readonly port: number | null
}

export interface EmitOptions {
  readonly msg?: string | undefined
  readonly severity?: Severity | undefined
}

/** Writes one service's events for one peer (or for none: the service's own `startup`). */
export interface Emitter<E extends TaggedEvent> {
  readonly peer: Peer | undefined
  readonly emit: (event: E, options?: EmitOptions) => Effect.Effect<void>
}

/**
 * An emitter of `events` from `decky` for `peer`. A value the event's Schema refuses is a bug in the
 * emulator, so it dies (the harness reports it and closes that connection only).
 */
export const makeEmitter = <E extends TaggedEvent>(
  sink: EventSink["Type"],
  decky: string,
  events: ServiceEvents<E>,
  peer: Peer | undefined
): Emitter<E> => {
  const attackerIp = peer === undefined || peer.ip === "" ? UNKNOWN_IP : peer.ip
  const attackerPort = peer?.port ?? null
  return {
    peer,
    emit: (event, options) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const fields = events.encode(event)
        if (Either.isLeft(fields))
          return Effect.dieMessage(`${events.service}: invalid ${event._tag} event: ${fields.left.message}`)
        return sink.write({
          timestamp: new Date(now),
          decky,
          service: events.service,
          event_type: event._tag,
          attacker_ip: attackerIp,
          attacker_port: attackerPort,
          fields: fields.right,
          msg: options?.msg ?? "",
          severity: options?.severity ?? Severity.info
        })
      })
  }
}
