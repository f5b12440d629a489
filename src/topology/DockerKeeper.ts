/**
 * The keeper of this host's Docker topologies. When the engine starts a topology's base container again (a
 * `docker restart`, or the engine's own restart bringing it back under `unless-stopped`), the base gets a
 * new network namespace: its addresses and sysctls come back, the routes through the L3 forwarders do not,
 * and its services container is left in the old namespace with only `lo`. The keeper follows the engine's
 * `start` events of base containers and repairs that topology at once (`DockerTopologyRepair`), with no
 * live op; at each (re)connection to the engine it repairs every live topology first, for the starts it
 * could not see. `decnet mutate --watch`, the process that applies Docker topologies' live ops, runs it.
 */
import { Clock, Duration, Effect, Option, Queue, Ref, Schedule, Stream } from "effect"
import { Docker } from "../docker/Docker.js"
import { DockerError } from "../docker/DockerError.js"
import { DockerTopologyRepair } from "./DockerTopology.js"
import { LABEL_ROLE, LABEL_TOPOLOGY } from "./DockerTopologyPlan.js"
import { LIVE_STATUSES, type TopologyDetail } from "./Model.js"
import { TopologyRepo } from "./TopologyRepo.js"

/** Where the keeper reads the topologies it keeps (the database, in production). */
export interface KeptTopologies {
  /** Every live (active or degraded) topology. */
  readonly live: Effect.Effect<ReadonlyArray<TopologyDetail>>
  /** One topology, when it is live; a deploy or a teardown under way is not the keeper's. */
  readonly get: (topologyId: string) => Effect.Effect<Option.Option<TopologyDetail>>
}

/** The live topologies as the database holds them; one that cannot be read is skipped, with why. */
export const keptFromRepo = Effect.map(TopologyRepo, (repo): KeptTopologies => {
  const get = (topologyId: string) =>
    repo.hydrate(topologyId).pipe(
      Effect.map(Option.filter((t) => LIVE_STATUSES.includes(t.topology.status))),
      Effect.catchAll((e) =>
        Effect.as(
          Effect.logWarning(`keeper: topology ${topologyId} cannot be read: ${e.message}`),
          Option.none()
        )
      )
    )
  return {
    get,
    live: Effect.flatMap(repo.listLiveTopologyIds(), (ids) =>
      Effect.map(Effect.forEach(ids, get), (ts) => ts.flatMap(Option.toArray))
    )
  }
})

/** Reconnecting to the engine's event stream: after 1 s, doubling, at most 30 s apart. */
const RECONNECT = Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("30 seconds")))
/** A connection up this long resets the back-off. */
const HEALTHY = Duration.minutes(1)
/** Topology ids waiting for a repair; more (a flood of starts) collapse, since each id repairs all of it. */
const DUE_CAPACITY = 1024

/** Follow the engine and repair what its base restarts undo, until interrupted. */
export const keepDockerTopologies = (
  source: KeptTopologies
): Effect.Effect<never, never, Docker | DockerTopologyRepair> =>
  Effect.scoped(
    Effect.gen(function* () {
      const docker = yield* Docker
      const { repair } = yield* DockerTopologyRepair
      const due = yield* Queue.sliding<string>(DUE_CAPACITY)

      const repairOne = (t: TopologyDetail) =>
        repair(t).pipe(
          Effect.tap((rejoined) =>
            Effect.logInfo(
              `keeper: topology ${t.topology.name}: routes and rules in step` +
                (rejoined.length > 0 ? `; services restarted into their base: ${rejoined.join(", ")}` : "")
            )
          ),
          Effect.catchAll((e) =>
            Effect.logWarning(`keeper: topology ${t.topology.name} could not be repaired: ${e.message}`)
          )
        )

      // Every topology asked for since the last pass, once: an engine restart starts many bases at once.
      yield* Effect.gen(function* () {
        const first = yield* Queue.take(due)
        const rest = yield* Queue.takeAll(due)
        for (const id of new Set([first, ...rest])) {
          const t = yield* source.get(id)
          if (Option.isSome(t)) yield* repairOne(t.value)
        }
      }).pipe(Effect.forever, Effect.forkScoped)

      // One connection: everything live repaired, then the base starts since just before that (the engine
      // replays them with `since`, so a start during the catch-up is not lost). It always ends in a failure.
      const connection = Effect.gen(function* () {
        const since = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const live = yield* source.live
        yield* Queue.offerAll(
          due,
          live.map((t) => t.topology.id)
        )
        yield* docker
          .events({ type: "container", actions: ["start"], labels: { [LABEL_ROLE]: "base" }, since })
          .pipe(
            Stream.runForEach((ev) => {
              const id = ev.Actor.Attributes[LABEL_TOPOLOGY]
              return id === undefined ? Effect.void : Queue.offer(due, id)
            })
          )
        return yield* new DockerError({
          op: "events",
          reason: "stream",
          message: "the engine closed the event stream"
        })
      })
      // The first failure after a healthy connection is a warning; retries while the engine stays away are not.
      const retrying = yield* Ref.make(false)
      const attempt = Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        const e = yield* Effect.flip(connection)
        const healthy = (yield* Clock.currentTimeMillis) - start >= Duration.toMillis(HEALTHY)
        const line = `keeper: docker events: ${e.message}; reconnecting`
        yield* (yield* Ref.getAndSet(retrying, !healthy)) && !healthy
          ? Effect.logDebug(line)
          : Effect.logWarning(line)
        if (!healthy) return yield* Effect.fail(e)
      })
      yield* Effect.logInfo("keeper: following the engine's base containers")
      return yield* attempt.pipe(
        // RECONNECT never ends: the error it would give up with cannot come.
        Effect.retry(RECONNECT),
        Effect.ignore,
        Effect.zipRight(Effect.sleep("1 second")),
        Effect.forever
      )
    })
  ).pipe(Effect.withSpan("DockerKeeper.keep"))
