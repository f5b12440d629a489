/**
 * Typed honeypot events and the sink they go to. Every event becomes exactly one RFC 5424 line
 * (spec/fleet.md §7): on stdout in production, into memory in tests.
 */
import { Context, Effect, Layer } from "effect"
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
  {
    /** A snapshot of the lines written so far (later writes do not change it). */
    readonly lines: Effect.Effect<ReadonlyArray<string>>
    readonly clear: Effect.Effect<void>
  }
>() {}

/**
 * Append-only: a write is one `push` (fuzz runs write tens of thousands of lines; copying the
 * array per line made them quadratic). Reads copy, so a snapshot never changes under a test.
 */
export const EventSinkMemory: Layer.Layer<EventSink | MemorySink> = Layer.effectContext(
  Effect.sync(() => {
    const lines: Array<string> = []
    return Context.make(EventSink, {
      write: (line: string) => Effect.sync(() => void lines.push(line))
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

export const formatHoneypotEvent = (event: HoneypotEvent): string => formatEventLine(toEventLine(event))
