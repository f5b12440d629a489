/**
 * The rotation rules of spec/topology.md §9, pure or on Effect's `Random`: which services a decky may
 * rotate through, how a new set is drawn, and whether a decky is due. Mutator.ts applies them.
 */
import { Effect, Option, Random } from "effect"
import { findArchetype } from "../catalog/index.js"
import type { ServiceSlug } from "../catalog/Service.js"
import { SERVICE_NAMES } from "../catalog/Services.js"
import type { Decky, Deployment } from "../fleet/Model.js"
import { isHoneypotSlug } from "../honeypots/Registry.js"

/**
 * What a decky can run. Both runtimes run our emulators (in-process: fibers; docker: `decnet decky` in
 * the container), so both run exactly the emulated slugs; a catalog service without an emulator yet
 * (snmp, sip, conpot…) would make the decky fail to come up, so it is never drawn.
 */
export const canRun = (slug: ServiceSlug): boolean => isHoneypotSlug(slug)

/**
 * The pool: the archetype's services when the decky has a known archetype, else every non-singleton
 * service; in both cases only what `runnable` accepts. Empty means the decky cannot be mutated.
 */
export const pickPool = (
  decky: Pick<Decky, "archetype">,
  runnable: (slug: ServiceSlug) => boolean = canRun
): ReadonlyArray<ServiceSlug> => {
  const base = Option.match(Option.flatMap(Option.fromNullable(decky.archetype), findArchetype), {
    onNone: () => SERVICE_NAMES,
    onSome: (a) => a.services
  })
  return base.filter(runnable)
}

/** Give up looking for a set different from the current one after this many draws. */
export const MAX_DRAWS = 20
/** A draw takes at most this many services. */
export const MAX_SERVICES = 3

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) =>
  a.size === b.size && [...a].every((x) => b.has(x))

/**
 * Draw 1..min(3, |pool|) distinct services until the set differs from `current` or more than 20 draws
 * were made (so a one-service pool "mutates" to the same set). The result keeps the pool's order; `None`
 * only for an empty pool.
 */
export const drawServices = (
  pool: ReadonlyArray<ServiceSlug>,
  current: ReadonlyArray<string>
): Effect.Effect<Option.Option<readonly [ServiceSlug, ...Array<ServiceSlug>]>> =>
  Effect.gen(function* () {
    if (pool.length === 0) return Option.none()
    const before = new Set(current)
    let chosen = new Set<ServiceSlug>()
    for (let draws = 1; ; draws++) {
      const count = yield* Random.nextIntBetween(1, Math.min(MAX_SERVICES, pool.length) + 1)
      const shuffled = yield* Random.shuffle(pool)
      chosen = new Set([...shuffled].slice(0, count))
      if (!sameSet(chosen, before) || draws > MAX_DRAWS) break
    }
    const [first, ...rest] = pool.filter((s) => chosen.has(s))
    return first === undefined ? Option.none() : Option.some([first, ...rest] as const)
  })

/** What one decky is at `now` for a `mutateAll` pass. */
export type Dueness =
  | { readonly _tag: "Skip" }
  | { readonly _tag: "Due" }
  /** Not yet: due in `seconds`. */
  | { readonly _tag: "Pending"; readonly seconds: number }

export interface DueOptions {
  readonly force?: boolean
  /** Deckies asked for by name (bus `mutate_request`, CLI): forced, every other decky skipped. */
  readonly only?: ReadonlySet<string>
}

/**
 * Spec §9 `mutate_all`'s per-decky rule. The interval is the decky's `mutate_interval`, else the
 * deployment's (minutes). A decky named in `only` is due even without an interval: a request names one
 * decky on purpose (the spec's "`only` still needs an interval" made a request for such a decky a silent
 * no-op).
 */
export const dueness = (
  decky: Decky,
  deployment: Deployment,
  nowSeconds: number,
  options: DueOptions = {}
): Dueness => {
  if (options.only !== undefined) return options.only.has(decky.name) ? { _tag: "Due" } : { _tag: "Skip" }
  if (options.force === true) return { _tag: "Due" }
  const minutes = decky.mutate_interval ?? deployment.mutate_interval
  if (minutes === null) return { _tag: "Skip" }
  const elapsed = nowSeconds - decky.last_mutated
  const period = minutes * 60
  return elapsed >= period ? { _tag: "Due" } : { _tag: "Pending", seconds: period - elapsed }
}
