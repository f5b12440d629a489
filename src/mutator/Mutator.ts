/**
 * The flat-fleet mutator (spec/topology.md §9): rotate a decky's services. The new set is saved to the
 * database before the runtime is touched, so a crash in between leaves the database ahead and the next
 * `up` (or the reconciler's view) follows it; the runtime then re-creates the decky (docker: a new
 * container; in-process: new fibers). Only a mutation the runtime carried out emits `decky_mutated`.
 */
import { Clock, Data, Effect, Option } from "effect"
import type { Bus } from "../bus/Bus.js"
import type { EvidenceWriter } from "../collector/Writer.js"
import { Decky, Deployment, type RuntimeKind } from "../fleet/Model.js"
import { DeckyRuntime } from "../fleet/Runtime.js"
import { FleetStore } from "../fleet/Store.js"
import { emitDeckyMutated, type MutationTrigger } from "./Events.js"
import { type DueOptions, drawServices, dueness, pickPool } from "./Rotation.js"

/** How one `mutateDecky` ended; only `Mutated` changed what runs. */
export type MutateOutcome = Data.TaggedEnum<{
  Mutated: {
    readonly decky: string
    readonly old: ReadonlyArray<string>
    readonly new: ReadonlyArray<string>
  }
  NoDeployment: {}
  UnknownDecky: { readonly decky: string }
  /** Run by another host (swarm): its agent mutates it, not this process. */
  Remote: { readonly decky: string; readonly host: string }
  /** The deployment runs on another runtime than this process's (e.g. an in-process fleet inside `decnet up`). */
  OtherRuntime: { readonly decky: string; readonly runtime: string }
  EmptyPool: { readonly decky: string }
  /** The database holds the new set; the runtime failed to run it. */
  RuntimeFailed: { readonly decky: string; readonly message: string }
}>
export const MutateOutcome = Data.taggedEnum<MutateOutcome>()

/** One line for the operator: what happened to the decky. */
export const describeOutcome = (o: MutateOutcome): string =>
  MutateOutcome.$match(o, {
    Mutated: (m) => `${m.decky}: ${m.old.join(",") || "-"} -> ${m.new.join(",")}`,
    NoDeployment: () => "No active deployment",
    UnknownDecky: (m) => `Decky ${m.decky} not found`,
    Remote: (m) => `Decky ${m.decky} runs on host ${m.host}; its agent mutates it`,
    OtherRuntime: (m) => `Decky ${m.decky} runs on the ${m.runtime} runtime, not this process's`,
    EmptyPool: (m) => `No services available to mutate ${m.decky}`,
    RuntimeFailed: (m) => `Failed to mutate ${m.decky}: ${m.message}`
  })

export interface MutateOptions {
  /** Who asked, recorded as `actor` on `decky_mutated`. */
  readonly actor?: string
}

export type MutatorContext = FleetStore | DeckyRuntime | EvidenceWriter | Bus

const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => ms / 1000)

const withDecky = (deployment: Deployment, decky: Decky): Deployment => {
  const deckies = deployment.deckies.map((d) => (d.name === decky.name ? decky : d))
  const [first, ...rest] = deckies
  return first === undefined ? deployment : new Deployment({ ...deployment, deckies: [first, ...rest] })
}

/** Spec §9 `mutate_decky`, with the reason when nothing ran. */
export const mutateDeckyOutcome = (
  name: string,
  trigger: MutationTrigger = "operator",
  options: MutateOptions = {}
): Effect.Effect<MutateOutcome, never, MutatorContext> =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const runtime = yield* DeckyRuntime
    const state = yield* store.load()
    if (Option.isNone(state)) return MutateOutcome.NoDeployment()
    const deployment = state.value.config
    const decky = deployment.deckies.find((d) => d.name === name)
    if (decky === undefined) return MutateOutcome.UnknownDecky({ decky: name })
    // Swarm seam: a decky with a host_uuid runs on that agent, which would be asked to mutate it.
    if (decky.host_uuid !== null) return MutateOutcome.Remote({ decky: name, host: decky.host_uuid })
    if (deployment.runtime !== runtime.kind)
      return MutateOutcome.OtherRuntime({ decky: name, runtime: deployment.runtime })
    const drawn = yield* drawServices(pickPool(decky), decky.services)
    if (Option.isNone(drawn)) return MutateOutcome.EmptyPool({ decky: name })

    const updated = new Decky({ ...decky, services: drawn.value, last_mutated: yield* nowSeconds })
    // Database first: what the runtime is about to run is already recorded if we die during `up`.
    if (!(yield* store.updateDecky(updated))) return MutateOutcome.NoDeployment()
    yield* Effect.logInfo(
      `mutating ${name}: ${decky.services.join(",")} -> ${updated.services.join(",")} (${trigger})`
    )
    const ran = yield* runtime.up(updated, withDecky(deployment, updated)).pipe(Effect.either)
    if (ran._tag === "Left") {
      yield* Effect.logError(`mutation of ${name} failed: ${ran.left.message}`)
      return MutateOutcome.RuntimeFailed({ decky: name, message: ran.left.message })
    }
    yield* store.updateDecky(updated, ran.right)
    yield* emitDeckyMutated({
      decky: name,
      old_services: decky.services,
      new_services: updated.services,
      trigger,
      ...(options.actor === undefined ? {} : { actor: options.actor })
    })
    return MutateOutcome.Mutated({ decky: name, old: decky.services, new: updated.services })
  }).pipe(Effect.withSpan("Mutator.mutateDecky", { attributes: { decky: name, trigger } }))

/** Spec §9 `mutate_decky`: true when the decky now runs a new draw (and `decky_mutated` went out). */
export const mutateDecky = (
  name: string,
  trigger: MutationTrigger = "operator",
  options: MutateOptions = {}
): Effect.Effect<boolean, never, MutatorContext> =>
  Effect.gen(function* () {
    const outcome = yield* mutateDeckyOutcome(name, trigger, options)
    if (outcome._tag === "Mutated") return true
    if (outcome._tag !== "RuntimeFailed") yield* Effect.logWarning(describeOutcome(outcome))
    return false
  })

export interface MutateAllReport {
  /** Whether a deployment is stored. */
  readonly present: boolean
  /** Set when the stored deployment runs on another runtime than this process's: nothing was mutated. */
  readonly otherRuntime?: RuntimeKind
  /** Seconds until the next decky is due; none when nothing is pending. */
  readonly nextDue: Option.Option<number>
  readonly outcomes: ReadonlyArray<MutateOutcome>
}

/**
 * One pass over the deployment: mutate every due decky (trigger `operator` when forced or asked for by
 * name, else `scheduled`) and report when the next one is due. Deckies of another host or another
 * runtime are not this process's to mutate and are skipped.
 */
export const mutateAllReport = (
  options: DueOptions = {}
): Effect.Effect<MutateAllReport, never, MutatorContext> =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const runtime = yield* DeckyRuntime
    const state = yield* store.load()
    if (Option.isNone(state)) return { present: false, nextDue: Option.none(), outcomes: [] }
    const deployment = state.value.config
    if (deployment.runtime !== runtime.kind)
      return { present: true, otherRuntime: deployment.runtime, nextDue: Option.none(), outcomes: [] }
    const trigger: MutationTrigger =
      options.force === true || options.only !== undefined ? "operator" : "scheduled"
    const now = yield* nowSeconds
    let nextDue = Option.none<number>()
    const outcomes: Array<MutateOutcome> = []
    for (const decky of deployment.deckies) {
      if (decky.host_uuid !== null) continue
      const due = dueness(decky, deployment, now, options)
      if (due._tag === "Pending")
        nextDue = Option.some(
          Option.match(nextDue, { onNone: () => due.seconds, onSome: (n) => Math.min(n, due.seconds) })
        )
      if (due._tag !== "Due") continue
      const outcome = yield* mutateDeckyOutcome(decky.name, trigger)
      if (outcome._tag !== "Mutated" && outcome._tag !== "RuntimeFailed")
        yield* Effect.logWarning(describeOutcome(outcome))
      outcomes.push(outcome)
    }
    return { present: true, nextDue, outcomes }
  }).pipe(Effect.withSpan("Mutator.mutateAll"))

/** Spec §9 `mutate_all`: the seconds until the next decky is due, or none. */
export const mutateAll = (
  options: DueOptions = {}
): Effect.Effect<Option.Option<number>, never, MutatorContext> =>
  Effect.map(mutateAllReport(options), (r) => r.nextDue)
