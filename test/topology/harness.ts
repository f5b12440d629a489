// The database half of the deployer, ops and reconciler tests: TopologyRepo on a real backend (SQLite file
// or MariaDB), generated topologies persisted into it, and a world per test made of a recording runtime and
// the fake bus with every `topology.>` event it carried, in order.
import type { SqlClient } from "@effect/sql"
import {
  Context,
  Effect,
  Either,
  Layer,
  ManagedRuntime,
  Option,
  Queue,
  Schema,
  type Scope,
  Stream
} from "effect"
import { afterAll, beforeAll } from "vitest"
import { Bus, type BusEvent } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { MigrationsLive } from "../../src/db/index.js"
import { generate } from "../../src/topology/Generator.js"
import { TopologyConfig, type TopologyDetail, type TopologyStatus } from "../../src/topology/Model.js"
import { persistTopology } from "../../src/topology/Persist.js"
import { TopologyRuntime } from "../../src/topology/Runtime.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import type { Backend } from "../db/backends.js"
import { makeRecorderRuntime, type RecorderScript, type RuntimeCall } from "./recorder.js"

export type Db = TopologyRepo | SqlClient.SqlClient

let names = 0
export const uniqueName = (prefix = "topo") => `${prefix}-${process.pid}-${Date.now() % 100_000}-${++names}`

/** A ManagedRuntime over the backend for the whole file; `run` executes one scoped effect on it. */
export const useTopologyDb = (backend: Backend) => {
  let runtime: ManagedRuntime.ManagedRuntime<Db, unknown> | undefined
  beforeAll(async () => {
    runtime = ManagedRuntime.make(
      TopologyRepo.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(backend.layer))
    )
    await runtime.runPromise(TopologyRepo)
  })
  afterAll(async () => {
    await runtime?.dispose()
  })
  const run = <A, E>(effect: Effect.Effect<A, E, Db | Scope.Scope>): Promise<A> => {
    if (runtime === undefined) throw new Error("runtime not built yet")
    return runtime.runPromise(Effect.scoped(effect))
  }
  return { run }
}

/** A generated topology (depth 2, branching 2 unless told), persisted pending. */
export const persistGenerated = (options: { readonly seed?: number; readonly [key: string]: unknown } = {}) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const config = yield* Schema.decodeUnknown(TopologyConfig)({
      name: uniqueName(),
      depth: 2,
      branching_factor: 2,
      ...options,
      seed: options.seed ?? 7
    }).pipe(Effect.orDie)
    const seeded = { ...config, seed: options.seed ?? 7 }
    const plan = yield* Either.match(generate(seeded, yield* repo.reservedSubnets()), {
      onLeft: (e) => Effect.die(e),
      onRight: Effect.succeed
    })
    const topology = yield* persistTopology(plan).pipe(Effect.orDie)
    return { topology, plan }
  })

export const hydrated = (id: string): Effect.Effect<TopologyDetail, never, TopologyRepo> =>
  Effect.flatMap(TopologyRepo, (r) => Effect.map(r.hydrate(id), Option.getOrThrow)).pipe(Effect.orDie)

export const statusOf = (id: string): Effect.Effect<TopologyStatus, never, TopologyRepo> =>
  Effect.flatMap(TopologyRepo, (r) => Effect.map(r.getTopology(id), (t) => Option.getOrThrow(t).status))

export interface World {
  readonly calls: Effect.Effect<ReadonlyArray<RuntimeCall>>
  readonly clear: Effect.Effect<void>
  /** Every `topology.>` event so far, in publish order. */
  readonly events: Effect.Effect<ReadonlyArray<BusEvent>>
  readonly provide: <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, Exclude<R, TopologyRuntime | Bus>>
}

/** A recording runtime (scripted) and the fake bus, recording every topology event. */
export const makeWorld = (script: RecorderScript = {}): Effect.Effect<World, never, Scope.Scope> =>
  Effect.gen(function* () {
    const recorder = yield* makeRecorderRuntime(script)
    const bus = yield* makeFakeBus()
    const seen = yield* Queue.unbounded<BusEvent>()
    yield* (yield* bus.subscribe("topology.>").pipe(Effect.orDie)).pipe(
      Stream.runForEach((e) => Queue.offer(seen, e)),
      Effect.forkScoped
    )
    const events = Effect.gen(function* () {
      // The fake bus delivers synchronously into the subscription's queue; let the forwarding fiber run.
      yield* Effect.yieldNow()
      yield* Effect.sleep("5 millis")
      const all = yield* Queue.takeAll(seen)
      return [...all]
    })
    const log: Array<BusEvent> = []
    return {
      calls: recorder.calls,
      clear: recorder.clear,
      events: Effect.map(events, (fresh) => {
        log.push(...fresh)
        return [...log]
      }),
      provide: <A, E, R>(self: Effect.Effect<A, E, R>) =>
        Effect.provide(self, Context.make(TopologyRuntime, recorder.service).pipe(Context.add(Bus, bus)))
    } satisfies World
  })

/** Topic tails (`mutation.applying`, `status`) of the events, for order checks. */
export const tails = (events: ReadonlyArray<BusEvent>) =>
  events.map((e) => e.topic.split(".").slice(2).join("."))
