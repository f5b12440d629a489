/**
 * The event sink of deckies that run inside this process (`decnet up`, the in-process runtime): each
 * typed event goes straight into the collector core, with no RFC 5424 round trip through stdout. The
 * `.log` still gets the event's line (`encodeEventLine`), so both runtimes leave the same evidence files.
 */
import { Effect, Layer } from "effect"
import { EventSink } from "../honeypots/runtime/Emitter.js"
import type { HoneypotEvent } from "../logging/HoneypotEvent.js"
import { Collector, type CollectorService, IN_PROCESS_SOURCE } from "./Collector.js"

/**
 * The sink over a collector. An emulator cannot act on a write failure (a full disk), so it is logged
 * and the event is dropped; the connection goes on.
 */
export const inProcessSink = (collector: CollectorService): EventSink["Type"] => ({
  write: (event: HoneypotEvent) =>
    collector.acceptEvent(event, IN_PROCESS_SOURCE).pipe(
      Effect.asVoid,
      Effect.catchAll((e) =>
        Effect.logError(
          `collector: event ${event.service}/${event.event_type} from ${event.decky} lost: ${e.message}`
        )
      )
    )
})

/** `EventSink` for in-process deckies, fed to the `Collector` in context. */
export const InProcessSinkLive: Layer.Layer<EventSink, never, Collector> = Layer.effect(
  EventSink,
  Effect.map(Collector, inProcessSink)
)
