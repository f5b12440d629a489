/**
 * Worker liveness: `system.<worker>.health` (type "health") now and every 30 s, read by the API's
 * worker registry. A failing `extra()` or publish never stops the beat; shutdown is interruption.
 */
import { Effect, Schedule, type Scope } from "effect"
import type { Bus, Payload } from "./Bus.js"
import { publishSafely } from "./Helpers.js"

export const HEARTBEAT_INTERVAL = "30 seconds"

export const runHealthHeartbeat = (
  worker: string,
  extra: () => Payload = () => ({})
): Effect.Effect<void, never, Bus | Scope.Scope> => {
  const beat = Effect.gen(function* () {
    const more = yield* Effect.try(extra).pipe(
      Effect.catchAllCause((cause) =>
        Effect.as(Effect.logWarning(`heartbeat extra() failed for ${worker}`, cause), {})
      )
    )
    const ts = (yield* Effect.clockWith((c) => c.currentTimeMillis)) / 1000
    yield* publishSafely(`system.${worker}.health`, { worker, ts, ...more }, "health")
  })
  return beat.pipe(
    Effect.repeat(Schedule.spaced(HEARTBEAT_INTERVAL)),
    Effect.asVoid,
    Effect.forkScoped,
    Effect.asVoid
  )
}
