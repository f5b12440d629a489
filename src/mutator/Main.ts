/**
 * `decnet mutate` as a process (loaded lazily by the command: it pulls in the database and dockerode).
 * `--watch` runs the schedule until SIGTERM or a stop intent; the one-shots mutate now. A Docker fleet is
 * mutated from here; an in-process fleet runs inside `decnet up`, so a one-shot asks that process over the
 * bus (`decky.<name>.mutate_request`) instead of touching deckies it cannot reach. `--watch` also drains
 * the MazeNET mutation queue on the Docker topology runtime (`decnet up` drains it on its in-process one),
 * and keeps the Docker topologies' routes through a base container's restart (DockerKeeper.ts).
 */
import { Console, Data, Effect, Layer, Option } from "effect"
import { Bus } from "../bus/Bus.js"
import { decky as deckyTopic } from "../bus/Topics.js"
import { EvidenceWriter, makeEvidenceWriter } from "../collector/Writer.js"
import { DecnetConfig } from "../config/DecnetConfig.js"
import type { Deployment } from "../fleet/Model.js"
import { FleetStore } from "../fleet/Store.js"
import { DockerDeckyRuntimeLive, FleetStoreLive, optionalBus } from "../fleet/WorkerLayers.js"
import { DockerLive } from "../docker/DockerLive.js"
import { keepDockerTopologies, keptFromRepo } from "../topology/DockerKeeper.js"
import { DockerTopologyLive } from "../topology/DockerTopology.js"
import { TopologyRepoLive } from "../topology/TopologyRepo.js"
import { describeOutcome, mutateAllReport, mutateDeckyOutcome } from "./Mutator.js"
import { MUTATOR_WORKER, runWatchLoop } from "./Watch.js"

export class MutateCliError extends Data.TaggedError("MutateCliError")<{ readonly message: string }> {}

const fail = (message: string) => Effect.fail(new MutateCliError({ message }))

export interface MutateMainOptions {
  readonly watch: boolean
  readonly decky: Option.Option<string>
  readonly all: boolean
  readonly pollSeconds: number
}

/** Ask the `decnet up` that runs an in-process fleet to mutate `names` now. */
const requestFromUp = (deployment: Deployment, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const state = yield* bus.state
    if (state !== "connected")
      return yield* fail(
        "this fleet runs in-process inside `decnet up`, which mutates it; asking it needs the bus, " +
          `and the bus is ${state === "closed" ? "disabled" : "not reachable"} (is \`decnet up\` running?)`
      )
    for (const name of names) {
      const topic = deckyTopic(name, "mutate_request")
      if (topic._tag === "Left") return yield* fail(`cannot request ${name}: ${topic.left.message}`)
      yield* bus
        .publish(topic.right, { name }, "mutate_request")
        .pipe(Effect.catchAll((e) => fail(`cannot request ${name}: ${e.message}`)))
      yield* Console.log(`${name}: mutation requested from decnet up (runtime ${deployment.runtime})`)
    }
  })

const oneShot = (o: MutateMainOptions) =>
  Effect.gen(function* () {
    const stored = yield* (yield* FleetStore).load()
    if (Option.isNone(stored)) {
      if (Option.isSome(o.decky)) return yield* fail("No active deployment")
      yield* Console.log("No active deployment")
      return
    }
    const deployment = stored.value.config
    if (deployment.runtime === "inprocess") {
      if (Option.isSome(o.decky)) {
        const name = o.decky.value
        if (!deployment.deckies.some((d) => d.name === name)) return yield* fail(`Decky ${name} not found`)
        return yield* requestFromUp(deployment, [name])
      }
      if (o.all)
        return yield* requestFromUp(
          deployment,
          deployment.deckies.filter((d) => d.host_uuid === null).map((d) => d.name)
        )
      yield* Console.log("this fleet runs in-process: `decnet up` runs its schedule; nothing is due here")
      return
    }
    if (Option.isSome(o.decky)) {
      const outcome = yield* mutateDeckyOutcome(o.decky.value, "operator")
      if (outcome._tag !== "Mutated") return yield* fail(describeOutcome(outcome))
      yield* Console.log(describeOutcome(outcome))
      return
    }
    const report = yield* mutateAllReport(o.all ? { force: true } : {})
    for (const outcome of report.outcomes) yield* Console.log(describeOutcome(outcome))
    if (report.outcomes.length === 0 && !o.all) yield* Console.log("No deckies are due for mutation.")
    if (Option.isSome(report.nextDue))
      yield* Console.log(`next decky due in ${Math.ceil(report.nextDue.value)}s`)
    if (report.outcomes.some((x) => x._tag !== "Mutated"))
      return yield* fail("some deckies were not mutated (see above)")
  })

/** Run `decnet mutate` with its options; fails with a one-line message for the operator. */
export const runMutateMain = (o: MutateMainOptions) =>
  Effect.gen(function* () {
    if (o.watch && (Option.isSome(o.decky) || o.all))
      return yield* fail("--watch runs the schedule; use --decky or --all without it")
    if (Option.isSome(o.decky) && o.all) return yield* fail("use --decky NAME or --all, not both")
    if (o.pollSeconds < 1) return yield* fail(`--poll must be at least 1 second, got ${o.pollSeconds}`)
    const { logs } = yield* DecnetConfig
    // decky_mutated lines go where the ingester reads (spec: DECNET_INGEST_LOG_FILE).
    const writer = yield* makeEvidenceWriter(logs.ingestLogFile)
    const services = Layer.mergeAll(
      FleetStoreLive,
      DockerDeckyRuntimeLive,
      optionalBus(MUTATOR_WORKER),
      Layer.succeed(EvidenceWriter, writer)
    )
    if (!o.watch) return yield* oneShot(o).pipe(Effect.provide(services))
    const topologies = Layer.merge(
      TopologyRepoLive,
      DockerTopologyLive().pipe(Layer.provideMerge(DockerLive))
    )
    // Beside the loop, the keeper: a topology base the engine restarts gets its routes back at once.
    yield* Effect.gen(function* () {
      yield* Effect.forkScoped(Effect.flatMap(keptFromRepo, keepDockerTopologies))
      yield* runWatchLoop({ pollSeconds: o.pollSeconds })
    }).pipe(Effect.provide(Layer.merge(services, topologies)))
    yield* Effect.logInfo("mutator: stopped on request")
  }).pipe(Effect.scoped)
