/**
 * The API's per-process TTL caches (spec api §4.6, §6), one helper for all of them: Effect's `Cache`, which
 * is single-flight (concurrent misses of one key share one lookup, so a window costs one database hit) and
 * expires entries after their time to live. `cacheWhen` decides per result whether it is kept at all: the
 * login cache keeps only hits, the user-by-uuid cache keeps misses too, and a failed lookup is never kept.
 */
import { Cache, Duration, Effect, Exit } from "effect"

export interface TtlCache<K, V, E> {
  readonly get: (key: K) => Effect.Effect<V, E>
  readonly invalidate: (key: K) => Effect.Effect<void>
  readonly invalidateAll: Effect.Effect<void>
}

export interface TtlCacheOptions<K, V, E, R> {
  readonly lookup: (key: K) => Effect.Effect<V, E, R>
  readonly ttl: Duration.DurationInput
  /** Keep this value for `ttl` (default: every success). */
  readonly cacheWhen?: (value: V) => boolean
  /** Distinct keys held at once (default 10,000). */
  readonly capacity?: number
}

export const makeTtlCache = <K, V, E, R>(
  options: TtlCacheOptions<K, V, E, R>
): Effect.Effect<TtlCache<K, V, E>, never, R> =>
  Effect.gen(function* () {
    const ttl = Duration.decode(options.ttl)
    const keep = options.cacheWhen ?? (() => true)
    const cache = yield* Cache.makeWith({
      capacity: options.capacity ?? 10_000,
      lookup: options.lookup,
      timeToLive: (exit: Exit.Exit<V, E>) => (Exit.isSuccess(exit) && keep(exit.value) ? ttl : Duration.zero)
    })
    return {
      get: (key: K) => cache.get(key),
      invalidate: (key: K) => cache.invalidate(key),
      invalidateAll: cache.invalidateAll
    }
  })

/** A cache of one value (the `/stats` kind): `get` recomputes at most once per `ttl`. */
export const makeTtlValue = <V, E, R>(
  lookup: Effect.Effect<V, E, R>,
  ttl: Duration.DurationInput
): Effect.Effect<{ readonly get: Effect.Effect<V, E>; readonly invalidate: Effect.Effect<void> }, never, R> =>
  Effect.map(makeTtlCache({ lookup: (_: "value") => lookup, ttl, capacity: 1 }), (c) => ({
    get: c.get("value"),
    invalidate: c.invalidate("value")
  }))
