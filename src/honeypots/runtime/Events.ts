/**
 * Typed honeypot events and the sink they go to. Every event becomes exactly one RFC 5424 line
 * (spec/fleet.md §7): on stdout in production, into memory in tests.
 */
import { Context, Effect, Layer, Ref } from "effect"
import { type EventLine, formatEventLine, type SdValue, type Severity } from "../../logging/Rfc5424.js"

export type EventFields = Readonly<Record<string, SdValue>>

export interface HoneypotEvent {
  readonly decky: string
  readonly service: string
  readonly eventType: string
  readonly fields: EventFields
  readonly msg?: string | undefined
  readonly severity?: Severity | undefined
}

/** Where formatted event lines go. */
export class EventSink extends Context.Tag("decnet/honeypots/EventSink")<
  EventSink,
  { readonly write: (line: string) => Effect.Effect<void> }
>() {}

export const toEventLine = (event: HoneypotEvent): EventLine => ({
  hostname: event.decky,
  appName: event.service,
  msgId: event.eventType,
  fields: event.fields,
  msg: event.msg,
  severity: event.severity
})

/** Production sink: one line per event on stdout (the collector reads container stdout). */
export const EventSinkStdout = Layer.succeed(EventSink, {
  write: (line) => Effect.sync(() => void process.stdout.write(`${line}\n`))
})

/** Test sink: keeps every line in memory. */
export class MemorySink extends Context.Tag("decnet/honeypots/MemorySink")<
  MemorySink,
  { readonly lines: Effect.Effect<ReadonlyArray<string>>; readonly clear: Effect.Effect<void> }
>() {}

export const EventSinkMemory: Layer.Layer<EventSink | MemorySink> = Layer.effectContext(
  Effect.gen(function* () {
    const ref = yield* Ref.make<ReadonlyArray<string>>([])
    return Context.make(EventSink, { write: (line) => Ref.update(ref, (ls) => [...ls, line]) }).pipe(
      Context.add(MemorySink, { lines: Ref.get(ref), clear: Ref.set(ref, []) })
    )
  })
)

export const formatHoneypotEvent = (event: HoneypotEvent): string => formatEventLine(toEventLine(event))
