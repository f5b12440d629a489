/**
 * The `topologies` group (spec/topology.md §10, §8 SSE): list, generate and blank creates, the pending-only
 * editor's LAN/decky/edge writes, deploy and teardown in the background, the live-mutation queue, the
 * per-topology event stream, the email personas, and a decky's tarpit (Tarpit.ts). Domain failures become
 * HTTP statuses in `toHttp`, once for the group.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import { Duration, Effect, Either, Exit, FiberSet, Option, Schema, Scope, Stream } from "effect"
import { AppBus } from "../../bus/AppBus.js"
import { Bus, type BusEvent } from "../../bus/Bus.js"
import { topologyAll } from "../../bus/Topics.js"
import { DecnetConfig } from "../../config/DecnetConfig.js"
import { TarpitTarget } from "../../tarpit/Namespaces.js"
import { IpAllocator, SubnetAllocator } from "../../topology/Allocators.js"
import {
  createBlank,
  generateTopology,
  nextEditorSubnet,
  type TopologyNameTaken
} from "../../topology/Create.js"
import { deployTopology, teardownTopology } from "../../topology/Deploy.js"
import {
  type AllocatorExhausted,
  type MutationError,
  TopologyNotEditable,
  TopologyNotFound,
  type TopologyRejected,
  type TopologyStatusError,
  type TopologyValidationError,
  type VersionConflict
} from "../../topology/Errors.js"
import {
  checkDeployable,
  checkTearable,
  deleteTopology,
  enqueueMutation,
  requireTopology
} from "../../topology/Lifecycle.js"
import { MutationRow, type TopologyStatus } from "../../topology/Model.js"
import { personasFromBody, personasOf, setEmailPersonas } from "../../topology/Personas.js"
import { TopologyRuntime } from "../../topology/Runtime.js"
import { TopologyRepo } from "../../topology/TopologyRepo.js"
import { ApiAuth } from "../Auth.js"
import { DecnetApi } from "../Contract.js"
import { BadRequest, Conflict, NotFound, NotImplemented } from "../Errors.js"
import { CurrentUser } from "../Security.js"
import { endWithError, SSE_HEADERS, sseComment, sseFrame, withKeepalive } from "./Logs.js"
import { TarpitRoutes } from "./Tarpit.js"

type TopologyFailure =
  | TopologyNotFound
  | TopologyNotEditable
  | VersionConflict
  | TopologyRejected
  | TopologyStatusError
  | AllocatorExhausted
  | TopologyValidationError
  | MutationError
  | TopologyNameTaken

/** §7 `map_repo_exception` and §10's texts: the one place a topology failure becomes a status. */
export const toHttp = (e: TopologyFailure): BadRequest | NotFound | Conflict => {
  switch (e._tag) {
    case "TopologyNotFound":
      return e.what === "swarm host"
        ? new BadRequest({ detail: `unknown swarm host '${e.id}'` })
        : new NotFound({ detail: e.message })
    case "TopologyNotEditable":
      return new Conflict({
        detail: `Topology is '${e.status}'; free-form child edits are pending-only.  Use the mutation queue for active topologies.`
      })
    case "VersionConflict":
      return new Conflict({ detail: `Version conflict: expected ${e.expected}, current ${e.current}` })
    case "TopologyStatusError":
    case "AllocatorExhausted":
    case "TopologyNameTaken":
      return new Conflict({ detail: e.message })
    case "TopologyRejected":
    case "TopologyValidationError":
    case "MutationError":
      return new BadRequest({ detail: e.message })
  }
}

const AGENT_DEPLOY =
  "this topology is pinned to a swarm host: its agent deploys it, and agent deploys come with the swarm (not in this build). Create it with mode='unihost' to deploy it here."

/** Events queued per stream; a slow client loses the oldest, never the bus (§8: 256, overflow dropped). */
const STREAM_QUEUE = 256

const encodeMutations = Schema.encodeSync(Schema.Array(MutationRow))

/**
 * The SSE event name of a bus topic (§8): `topology.<id>.<tail>` → `<tail>`, `decky.<x>.<tail>` →
 * `decky.<tail>`; shorter topics pass through.
 */
export const eventName = (topic: string): string => {
  const tokens = topic.split(".")
  if (tokens.length < 3) return topic
  const tail = tokens.slice(2).join(".")
  return tokens[0] === "decky" ? `decky.${tail}` : tail
}

/** A `decky.>` event belongs to the stream when its payload names this topology. */
const ofTopology = (topologyId: string) => (e: BusEvent) =>
  !e.topic.startsWith("decky.") || e.payload.topology_id === topologyId

/** §10: the topology's decky by its own name, keyed `t:<topology id>:<decky name>`. */
const tarpitTarget = (path: { readonly topology_id: string; readonly decky_name: string }) =>
  TarpitTarget.Topology({ topologyId: path.topology_id, name: path.decky_name })

export const TopologiesHandlers = HttpApiBuilder.group(DecnetApi, "topologies", (handlers) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const auth = yield* ApiAuth
    const appBus = yield* AppBus
    const config = yield* DecnetConfig
    const tarpit = yield* TarpitRoutes
    // Deploys and teardowns outlive their request: they run in the server's scope.
    const background = yield* FiberSet.make()
    const context = yield* Effect.context<TopologyRepo | TopologyRuntime | SqlClient.SqlClient>()

    /** Run with the repository, the runtime and the database, and the shared bus when it is up. */
    const withBus = <A, E>(effect: Effect.Effect<A, E, TopologyRepo | TopologyRuntime>) =>
      Effect.flatMap(appBus.get, (bus) =>
        Option.match(bus, {
          onNone: () => Effect.provide(effect, context),
          onSome: (b) => effect.pipe(Effect.provide(context), Effect.provideService(Bus, b))
        })
      )

    const requireTopologyIn = (id: string) => Effect.provideService(requireTopology(id), TopologyRepo, repo)

    /** Child edits are for pending topologies only (§10); a deployed one takes mutations. */
    const pendingOnly = (id: string) =>
      Effect.flatMap(requireTopologyIn(id), (t) =>
        t.status === "pending"
          ? Effect.succeed(t)
          : Effect.fail(new TopologyNotEditable({ topologyId: id, status: t.status }))
      )

    const lanOf = (topologyId: string, lanId: string) =>
      Effect.flatMap(repo.listLans(topologyId), (lans) => {
        const lan = lans.find((l) => l.id === lanId)
        return lan === undefined
          ? Effect.fail(new TopologyNotFound({ what: "lan", id: lanId }))
          : Effect.succeed(lan)
      })

    const deckyOf = (topologyId: string, uuid: string) =>
      Effect.flatMap(repo.listDeckies(topologyId), (deckies) => {
        const decky = deckies.find((d) => d.uuid === uuid)
        return decky === undefined
          ? Effect.fail(new TopologyNotFound({ what: "decky", id: uuid }))
          : Effect.succeed(decky)
      })

    /** Every topology id, whatever its status (the reaper keeps what any row names, §6). */
    const allTopologyIds = Effect.gen(function* () {
      const ids: Array<string> = []
      for (let offset = 0; ; offset += 500) {
        const page = yield* repo.listTopologies({ limit: 500, offset })
        ids.push(...page.data.map((t) => t.id))
        if (page.data.length < 500) return ids
      }
    })

    const personasView = (id: string) =>
      Effect.map(requireTopologyIn(id), (t) => ({
        topology_id: t.id,
        topology_name: t.name,
        language_default: t.language_default,
        personas: personasOf(t.email_personas)
      }))

    /**
     * `GET /{id}/events` (§8): a keepalive, the snapshot, then this topology's bus events. The bus is
     * subscribed before the snapshot is read, so nothing that happens after the snapshot is missed.
     */
    const eventStream = (topologyId: string, status: TopologyStatus): Stream.Stream<Uint8Array> => {
      const snapshot = Effect.gen(function* () {
        const now = yield* repo.getTopology(topologyId)
        const pending = yield* repo.listMutations(topologyId, "pending")
        const applying = yield* repo.listMutations(topologyId, "applying")
        return sseFrame("snapshot", {
          topology_id: topologyId,
          status: Option.match(now, { onNone: () => status, onSome: (t) => t.status }),
          in_flight: encodeMutations([...pending, ...applying])
        })
      })
      const subscribe = Effect.gen(function* () {
        const bus = yield* appBus.get
        if (Option.isNone(bus)) return Stream.never
        const own = topologyAll(topologyId)
        if (Either.isLeft(own)) return Stream.never
        const streams = yield* Effect.forEach([own.right, "decky.>"], (p) => bus.value.subscribe(p))
        return Stream.mergeAll(streams, { concurrency: "unbounded" })
      }).pipe(
        Effect.catchAll((e) =>
          Effect.as(
            Effect.logWarning(`SSE /topologies/${topologyId}/events: no bus (${e.message})`),
            Stream.never
          )
        )
      )
      // A keepalive after each DECNET_SSE_KEEPALIVE_SECONDS (15 s) of silence, for as long as it lasts.
      const live = (events: Stream.Stream<BusEvent>) =>
        withKeepalive(
          events.pipe(
            Stream.filter(ofTopology(topologyId)),
            Stream.buffer({ capacity: STREAM_QUEUE, strategy: "dropping" }),
            Stream.map((e) =>
              sseFrame(eventName(e.topic), { topic: e.topic, type: e.type, ts: e.ts, payload: e.payload })
            )
          ),
          Duration.seconds(config.api.sseKeepaliveSeconds)
        )
      const body = Stream.unwrapScoped(
        Effect.gen(function* () {
          const events = yield* subscribe
          const first = yield* snapshot
          return Stream.concat(Stream.make(first), live(events))
        })
      )
      return Stream.concat(Stream.make(sseComment("keepalive")), body).pipe(
        endWithError(`/topologies/${topologyId}/events`)
      )
    }

    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.map(
          repo.listTopologies({ status: urlParams.status, limit: urlParams.limit, offset: urlParams.offset }),
          (page) => ({ total: page.total, limit: urlParams.limit, offset: urlParams.offset, data: page.data })
        )
      )
      .handle("generate", ({ payload }) => {
        const { target_host_uuid, ...fields } = payload
        return generateTopology({ ...fields, subnet_base_prefix: "172.16.0.0/12" }, target_host_uuid).pipe(
          Effect.map((r) => r.topology),
          Effect.provide(context),
          Effect.mapError(toHttp)
        )
      })
      .handle("blank", ({ payload }) =>
        createBlank(payload).pipe(Effect.provide(context), Effect.mapError(toHttp))
      )
      .handle("nextSubnet", ({ urlParams }) =>
        Effect.gen(function* () {
          const reserved = yield* repo.reservedSubnets()
          const allocator = yield* SubnetAllocator.make(urlParams.base, reserved)
          return { subnet: yield* allocator.nextFree() }
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("reapOrphans", () =>
        Effect.gen(function* () {
          const runtime = yield* TopologyRuntime
          return yield* runtime.reapOrphans(yield* allTopologyIds)
        }).pipe(Effect.provide(context))
      )
      .handle("get", ({ path }) =>
        Effect.flatMap(repo.hydrate(path.topology_id), (detail) =>
          Option.match(detail, {
            onNone: () => Effect.fail(new TopologyNotFound({ what: "topology", id: path.topology_id })),
            onSome: Effect.succeed
          })
        ).pipe(Effect.mapError(toHttp))
      )
      .handle("remove", ({ path }) =>
        deleteTopology(path.topology_id).pipe(Effect.asVoid, Effect.provide(context), Effect.mapError(toHttp))
      )
      .handle("statusEvents", ({ path, urlParams }) =>
        Effect.zipRight(
          requireTopologyIn(path.topology_id),
          repo.listStatusEvents(path.topology_id, urlParams.limit)
        ).pipe(Effect.mapError(toHttp))
      )
      .handle("deploy", ({ path }) =>
        Effect.gen(function* () {
          const t = yield* requireTopologyIn(path.topology_id).pipe(
            Effect.tap(checkDeployable),
            Effect.mapError(toHttp)
          )
          if (t.target_host_uuid !== null) return yield* new NotImplemented({ detail: AGENT_DEPLOY })
          // Validated before the answer: an invalid topology is a 400 here, not a log line later.
          yield* deployTopology(t.id, { dryRun: true }).pipe(
            Effect.provide(context),
            Effect.catchTag("TopologyRuntimeError", (e) => Effect.die(e)),
            Effect.mapError(toHttp)
          )
          if (!config.api.contractTest)
            yield* FiberSet.run(
              background,
              withBus(deployTopology(t.id)).pipe(
                Effect.catchAllCause((cause) =>
                  Effect.logError(`topology ${t.name} (${t.id}): background deploy failed`, cause)
                )
              )
            )
          return t
        })
      )
      .handle("teardown", ({ path }) =>
        Effect.gen(function* () {
          const t = yield* requireTopologyIn(path.topology_id).pipe(
            Effect.tap(checkTearable),
            Effect.mapError(toHttp)
          )
          if (!config.api.contractTest)
            yield* FiberSet.run(
              background,
              withBus(teardownTopology(t.id)).pipe(
                Effect.catchAllCause((cause) =>
                  Effect.logError(`topology ${t.name} (${t.id}): background teardown failed`, cause)
                )
              )
            )
          return t
        })
      )
      .handle("addLan", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          const subnet = payload.subnet ?? (yield* nextEditorSubnet.pipe(Effect.provide(context)))
          return yield* repo.addLan(
            {
              topology_id: path.topology_id,
              name: payload.name,
              subnet,
              is_dmz: payload.is_dmz,
              x: payload.x,
              y: payload.y
            },
            { expectedVersion: payload.expected_version }
          )
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("updateLan", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          yield* lanOf(path.topology_id, path.lan_id)
          const { expected_version, ...patch } = payload
          return yield* repo.updateLan(path.lan_id, patch, {
            expectedVersion: expected_version,
            enforcePending: true
          })
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("deleteLan", ({ path }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          yield* lanOf(path.topology_id, path.lan_id)
          if (!(yield* repo.deleteLan(path.lan_id, { enforcePending: true })))
            return yield* new TopologyNotFound({ what: "lan", id: path.lan_id })
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("nextIp", ({ path }) =>
        Effect.gen(function* () {
          const detail = yield* repo.hydrate(path.topology_id)
          if (Option.isNone(detail))
            return yield* new TopologyNotFound({ what: "topology", id: path.topology_id })
          const lan = detail.value.lans.find((l) => l.id === path.lan_id)
          if (lan === undefined) return yield* new TopologyNotFound({ what: "lan", id: path.lan_id })
          const allocator = yield* IpAllocator.make(lan.subnet)
          // Every address a decky holds on this LAN is taken (the hydrated view has filled in the gaps).
          for (const d of detail.value.deckies) {
            const ip = d.decky_config?.ips_by_lan?.[lan.name]
            if (ip !== undefined && allocator.isFree(ip)) yield* allocator.reserve(ip)
          }
          return { subnet: lan.subnet, ip: yield* allocator.nextFree() }
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("addDecky", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          return yield* repo.addDecky(
            {
              topology_id: path.topology_id,
              name: payload.name,
              services: payload.services,
              decky_config: payload.decky_config,
              x: payload.x,
              y: payload.y
            },
            { expectedVersion: payload.expected_version }
          )
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("updateDecky", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          yield* deckyOf(path.topology_id, path.decky_uuid)
          const { expected_version, ...patch } = payload
          return yield* repo.updateDecky(path.decky_uuid, patch, {
            expectedVersion: expected_version,
            enforcePending: true
          })
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("deleteDecky", ({ path }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          yield* deckyOf(path.topology_id, path.decky_uuid)
          if (!(yield* repo.deleteDecky(path.decky_uuid, { enforcePending: true })))
            return yield* new TopologyNotFound({ what: "decky", id: path.decky_uuid })
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("addEdge", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          return yield* repo.addEdge(
            {
              topology_id: path.topology_id,
              decky_uuid: payload.decky_uuid,
              lan_id: payload.lan_id,
              is_bridge: payload.is_bridge,
              forwards_l3: payload.forwards_l3
            },
            { expectedVersion: payload.expected_version }
          )
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("deleteEdge", ({ path }) =>
        Effect.gen(function* () {
          yield* pendingOnly(path.topology_id)
          const edges = yield* repo.listEdges(path.topology_id)
          if (!edges.some((e) => e.id === path.edge_id))
            return yield* new TopologyNotFound({ what: "edge", id: path.edge_id })
          if (!(yield* repo.deleteEdge(path.edge_id, { enforcePending: true })))
            return yield* new TopologyNotFound({ what: "edge", id: path.edge_id })
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("enqueueMutation", ({ path, payload }) =>
        withBus(
          enqueueMutation(path.topology_id, payload.op, payload.payload, payload.expected_version)
        ).pipe(Effect.mapError(toHttp))
      )
      .handle("mutations", ({ path, urlParams }) =>
        Effect.zipRight(
          requireTopologyIn(path.topology_id),
          repo.listMutations(path.topology_id, urlParams.state)
        ).pipe(Effect.mapError(toHttp))
      )
      .handle("events", ({ path }) =>
        Effect.gen(function* () {
          const user = yield* CurrentUser
          const t = yield* requireTopologyIn(path.topology_id).pipe(Effect.mapError(toHttp))
          // The slot is taken before any byte is sent, so a full cap is a real 429 (api §5.3).
          const scope = yield* Scope.make()
          yield* Scope.extend(auth.acquireStreamSlot(user.uuid), scope)
          const body = eventStream(t.id, t.status).pipe(Stream.ensuring(Scope.close(scope, Exit.void)))
          return HttpServerResponse.stream(body, { contentType: "text/event-stream", headers: SSE_HEADERS })
        })
      )
      .handle("personas", ({ path }) => personasView(path.topology_id).pipe(Effect.mapError(toHttp)))
      .handle("setPersonas", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* requireTopologyIn(path.topology_id)
          const personas = yield* personasFromBody(payload.personas)
          if (!(yield* setEmailPersonas(path.topology_id, personas).pipe(Effect.provide(context))))
            return yield* new TopologyNotFound({ what: "topology", id: path.topology_id })
          return yield* personasView(path.topology_id)
        }).pipe(Effect.mapError(toHttp))
      )
      .handle("tarpitOn", ({ path, payload }) => tarpit.on(tarpitTarget(path), payload))
      .handle("tarpit", ({ path }) => tarpit.status(tarpitTarget(path)))
      .handle("tarpitOff", ({ path }) => tarpit.off(tarpitTarget(path)))
  })
)
