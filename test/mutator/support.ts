// One mutator test's world: a fresh fleet in the shared database, a fake runtime that records what the
// database held at each `up`, a fake bus with the mutations and requests it carried, and evidence files.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Option, Queue, Ref, type Scope, Stream } from "effect"
import { Bus, type BusEvent, type BusService } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { EvidenceWriter, makeEvidenceWriter } from "../../src/collector/Writer.js"
import type { FleetRepo } from "../../src/db/index.js"
import type { DeploymentState, RuntimeKind } from "../../src/fleet/Model.js"
import { DeckyRuntime } from "../../src/fleet/Runtime.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { type FakeRuntime, makeFakeRuntime, resetFleet } from "../fleet/fakeRuntime.js"

export interface World {
  readonly runtime: FakeRuntime
  readonly bus: BusService
  /** Every `decky.*.mutation` event, in order. */
  readonly mutations: Queue.Queue<BusEvent>
  /** The services the database held for a decky at the moment the runtime was asked to run it. */
  readonly storedAtUp: Ref.Ref<ReadonlyArray<ReadonlyArray<string>>>
  readonly logFile: string
  readonly lines: () => ReadonlyArray<string>
  readonly provide: <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, Exclude<R, DeckyRuntime | EvidenceWriter | Bus>>
}

export const makeWorld = (
  deployment: DeploymentState | undefined,
  options: { readonly kind?: RuntimeKind; readonly bus?: BusService } = {}
): Effect.Effect<World, never, FleetStore | FleetRepo | Scope.Scope> =>
  Effect.gen(function* () {
    yield* resetFleet
    const store = yield* FleetStore
    if (deployment !== undefined) yield* store.save(deployment)
    const dir = mkdtempSync(join(tmpdir(), "decnet-mutator-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const logFile = join(dir, "decnet.log")
    const writer = yield* makeEvidenceWriter(logFile).pipe(Effect.orDie)
    const bus = options.bus ?? (yield* makeFakeBus())
    const mutations = yield* Queue.unbounded<BusEvent>()
    yield* (yield* bus.subscribe("decky.*.mutation").pipe(Effect.orDie)).pipe(
      Stream.runForEach((e) => Queue.offer(mutations, e)),
      Effect.forkScoped
    )
    const storedAtUp = yield* Ref.make<ReadonlyArray<ReadonlyArray<string>>>([])
    const runtime = yield* makeFakeRuntime(options.kind ?? "inprocess", (decky) =>
      Effect.flatMap(store.load(), (s) => {
        const stored = Option.map(
          s,
          (x) => x.config.deckies.find((d) => d.name === decky.name)?.services ?? []
        )
        return Ref.update(storedAtUp, (xs) => [...xs, Option.getOrElse(stored, () => [])])
      })
    )
    const lines = () => {
      try {
        return readFileSync(logFile, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      } catch {
        return []
      }
    }
    const context = Context.make(DeckyRuntime, runtime.service).pipe(
      Context.add(EvidenceWriter, writer),
      Context.add(Bus, bus)
    )
    return {
      runtime,
      bus,
      mutations,
      storedAtUp,
      logFile,
      lines,
      provide: (self) => Effect.provide(self, context)
    }
  })

/** The deployment as stored now (it must exist). */
export const stored = Effect.flatMap(FleetStore, (s) => s.load()).pipe(Effect.map(Option.getOrThrow))
