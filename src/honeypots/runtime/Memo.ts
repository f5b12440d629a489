/**
 * A bounded, single-flight memo for expensive per-decky material (host keys, TLS certificates). It
 * belongs to one HoneypotContext, so two deckies in one process never share an entry. Concurrent
 * callers of one key wait for the same computation; a failed or interrupted one is forgotten, so it
 * can be retried; past `capacity` keys the oldest is dropped.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

export interface Memo<A, E> {
  readonly get: (key: string, make: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** Keys held now (for tests and limits). */
  readonly size: () => number
}

export const makeMemo = <A, E>(capacity: number): Memo<A, E> => {
  const entries = new Map<string, Deferred.Deferred<A, E>>()
  return {
    size: () => entries.size,
    get: (key, make) =>
      Effect.suspend(() => {
        const existing = entries.get(key)
        if (existing !== undefined) return Deferred.await(existing)
        const deferred = Deferred.unsafeMake<A, E>(FiberId.none)
        entries.set(key, deferred)
        while (entries.size > capacity) {
          const oldest = entries.keys().next()
          if (oldest.done === true) break
          entries.delete(oldest.value)
        }
        return make.pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (Exit.isFailure(exit) && entries.get(key) === deferred) entries.delete(key)
              return Deferred.done(deferred, exit)
            })
          )
        )
      })
  }
}
