/**
 * How the API changes the fleet: the process that serves it says which runtime it can drive.
 * - Inside `decnet up` (`FleetControl.inProcess`) the in-process runtime is right here: a deploy is
 *   recorded and synced at once, a mutation or a removal runs on it.
 * - `decnet api` on its own (`FleetControl.standalone`) drives Docker: a deploy runs `Fleet.deploy` on the
 *   Docker runtime. When the stored fleet is an in-process one (a `decnet up` elsewhere runs it), it only
 *   records the change, or asks that `up` on the bus (mutations), as `decnet deploy | mutate` do.
 */
import type { CommandExecutor, FileSystem } from "@effect/platform"
import { Cause, Context, Effect, Layer, Option, Predicate } from "effect"
import { Bus } from "../bus/Bus.js"
import { decky as deckyTopic } from "../bus/Topics.js"
import type { EvidenceWriter } from "../collector/Writer.js"
import type { DecnetConfig } from "../config/DecnetConfig.js"
import { FleetRepo } from "../db/FleetRepo.js"
import {
  deploy,
  discoverLan,
  type HostLan,
  recordDeployment,
  recordOnlyRuntime,
  syncRuntime,
  teardown
} from "../fleet/Fleet.js"
import { HostNetworkLive } from "../fleet/HostNetwork.js"
import type { Decky, Deployment, RuntimeKind } from "../fleet/Model.js"
import { DeckyRuntime } from "../fleet/Runtime.js"
import { FleetStore } from "../fleet/Store.js"
import { describeOutcome, mutateDeckyOutcome } from "../mutator/Mutator.js"

/** Each decky's outcome: undefined when it runs (or was recorded for the runtime that will run it). */
export type DeckyOutcomes = ReadonlyMap<string, string | undefined>

export interface FleetControlService {
  /** The runtime a deploy uses when nothing is deployed yet. */
  readonly runtime: RuntimeKind
  /** The LAN for a first deployment (the INI's [general] overrides it). */
  readonly lan: Effect.Effect<HostLan, string>
  /** Run (or record) the deployment. */
  readonly apply: (deployment: Deployment) => Effect.Effect<DeckyOutcomes, string>
  /** Rotate one decky's services now; the failure is the operator's line. */
  readonly mutate: (name: string, actor: string) => Effect.Effect<void, string>
  /** Stop and forget one decky. */
  readonly remove: (name: string) => Effect.Effect<void, string>
  /**
   * Store a changed decky (services, their config); with `recreate`, run it again now so the change takes
   * effect (a service added or removed always does).
   */
  readonly update: (decky: Decky, recreate: boolean) => Effect.Effect<void, string>
}

/** Save `decky` and, when asked, run it again on `runtime` (the new ports are saved with it). */
const saveAndRun = (decky: Decky, recreate: boolean) =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    if (!(yield* store.updateDecky(decky))) return yield* Effect.fail("No active deployment")
    if (!recreate) return
    const runtime = yield* DeckyRuntime
    const current = yield* store.load()
    if (Option.isNone(current)) return yield* Effect.fail("No active deployment")
    const ports = yield* runtime.up(decky, current.value.config).pipe(Effect.mapError((e) => e.message))
    yield* store.updateDecky(decky, ports)
  })

export class FleetControl extends Context.Tag("decnet/api/FleetControl")<
  FleetControl,
  FleetControlService
>() {
  /** Over `decnet up`'s in-process runtime, in up's context. */
  static readonly inProcess = (lan: HostLan) =>
    Layer.effect(
      FleetControl,
      Effect.gen(function* () {
        const context = yield* Effect.context<FleetStore | DeckyRuntime | EvidenceWriter | Bus | FleetRepo>()
        const apply = (deployment: Deployment) =>
          Effect.gen(function* () {
            yield* recordDeployment(deployment)
            yield* syncRuntime
            const rows = yield* (yield* FleetRepo).list()
            return new Map(
              deployment.deckies.map((d) => {
                const row = rows.find((r) => r.name === d.name)
                return [
                  d.name,
                  row?.state === "failed" ? (row.last_error ?? "failed to start") : undefined
                ] as const
              })
            )
          }).pipe(Effect.provide(context))
        return {
          runtime: "inprocess",
          lan: Effect.succeed(lan),
          apply,
          mutate: (name, actor) =>
            mutateDeckyOutcome(name, "operator", { actor }).pipe(
              Effect.flatMap((o) => (o._tag === "Mutated" ? Effect.void : Effect.fail(describeOutcome(o)))),
              Effect.provide(context)
            ),
          remove: (name) =>
            teardown({ _tag: "One", name }, { apply: true }).pipe(
              Effect.asVoid,
              Effect.mapError((e) => e.message),
              Effect.provide(context)
            ),
          update: (decky, recreate) => saveAndRun(decky, recreate).pipe(Effect.provide(context))
        } satisfies FleetControlService
      })
    )

  /** `decnet api` alone: Docker for a Docker fleet, the record (and the bus) for an in-process one. */
  static readonly standalone = Layer.effect(
    FleetControl,
    Effect.gen(function* () {
      const context = yield* Effect.context<FleetStore | EvidenceWriter | Bus>()
      const platform = yield* Effect.context<
        CommandExecutor.CommandExecutor | FileSystem.FileSystem | DecnetConfig
      >()
      const docker = Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("../fleet/WorkerLayers.js")),
          (m) => m.DockerDeckyRuntimeLive
        )
      )
      const stored = Effect.flatMap(FleetStore, (s) => s.load())
      const onDocker = <A, E>(
        effect: Effect.Effect<A, E, DeckyRuntime | FleetStore | EvidenceWriter | Bus>
      ) =>
        effect.pipe(
          Effect.provide(docker),
          Effect.catchAllCause((cause) => Effect.fail(messageOf(cause))),
          Effect.provide(context),
          Effect.provide(platform)
        )
      return {
        runtime: "docker",
        lan: discoverLan(Option.none()).pipe(
          Effect.mapError((e) => e.message),
          Effect.provide(HostNetworkLive),
          Effect.provide(platform)
        ),
        apply: (deployment) =>
          deployment.runtime === "inprocess"
            ? recordDeployment(deployment).pipe(
                Effect.as(new Map(deployment.deckies.map((d) => [d.name, undefined] as const))),
                Effect.provide(context)
              )
            : onDocker(deploy(deployment)).pipe(
                Effect.as(new Map(deployment.deckies.map((d) => [d.name, undefined] as const)))
              ),
        mutate: (name, actor) =>
          Effect.gen(function* () {
            const current = yield* stored
            if (Option.isSome(current) && current.value.config.runtime === "inprocess") {
              const bus = yield* Bus
              const topic = deckyTopic(name, "mutate_request")
              if (topic._tag === "Left") return yield* Effect.fail(topic.left.message)
              return yield* bus
                .publish(topic.right, { name, requested_by: actor }, "mutate_request")
                .pipe(Effect.mapError((e) => `cannot ask decnet up to mutate ${name}: ${e.message}`))
            }
            return yield* onDocker(
              Effect.flatMap(mutateDeckyOutcome(name, "operator", { actor }), (o) =>
                o._tag === "Mutated" ? Effect.void : Effect.fail(describeOutcome(o))
              )
            )
          }).pipe(Effect.provide(context)),
        remove: (name) =>
          Effect.gen(function* () {
            const current = yield* stored
            const local = Option.isSome(current) && current.value.config.runtime === "inprocess"
            if (local)
              return yield* teardown({ _tag: "One", name }, { apply: false }).pipe(
                Effect.asVoid,
                Effect.provideService(DeckyRuntime, recordOnlyRuntime),
                Effect.mapError((e) => e.message)
              )
            return yield* onDocker(
              teardown({ _tag: "One", name }, { apply: true }).pipe(
                Effect.asVoid,
                Effect.mapError((e) => e.message)
              )
            )
          }).pipe(Effect.provide(context)),
        update: (decky, recreate) =>
          Effect.gen(function* () {
            const current = yield* stored
            // An in-process fleet runs inside `decnet up`: record it; up's sync starts what changed.
            if (Option.isSome(current) && current.value.config.runtime === "inprocess")
              return yield* saveAndRun(decky, false).pipe(
                Effect.provideService(DeckyRuntime, recordOnlyRuntime)
              )
            return yield* onDocker(saveAndRun(decky, recreate))
          }).pipe(Effect.provide(context))
      } satisfies FleetControlService
    })
  )
}

/** A failure's message for the lifecycle row (a tagged error's message, else the cause's first line). */
const messageOf = (cause: Cause.Cause<unknown>): string => {
  const e: unknown = Cause.squash(cause)
  if (typeof e === "string") return e
  if (Predicate.hasProperty(e, "message") && typeof e.message === "string" && e.message !== "")
    return e.message
  return Cause.pretty(cause).split("\n")[0] ?? "failed"
}
