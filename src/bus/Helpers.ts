/**
 * Publishing helpers for worker hot paths: a bus hint must never fail the work that produced it,
 * since the database already holds the truth (spec/bus.md §1.9).
 */
import { Effect } from "effect"
import { Bus, type BusService, type Payload } from "./Bus.js"

/** Publish and swallow every failure or defect, logging it at WARN. */
export const publishSafely = (
  topic: string,
  payload: Payload,
  eventType = ""
): Effect.Effect<void, never, Bus> =>
  Effect.flatMap(Bus, (bus) => bus.publish(topic, payload, eventType)).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning(`bus publish on ${topic} failed; dropped`, cause))
  )

/** `publishSafely` on a given bus (e.g. the one `AppBus.get` handed out) instead of the `Bus` tag. */
export const publishSafelyOn = (
  bus: BusService,
  topic: string,
  payload: Payload,
  eventType = ""
): Effect.Effect<void> =>
  bus
    .publish(topic, payload, eventType)
    .pipe(
      Effect.catchAllCause((cause) => Effect.logWarning(`bus publish on ${topic} failed; dropped`, cause))
    )
