/**
 * The eight live-mutation ops (spec/topology.md §8): what the reconciler applies to a deployed topology.
 * Each op decodes its payload, writes the database first (the truth), then asks the runtime to follow, but
 * only when the topology is live (active or degraded) and runs here (not pinned to an agent); a runtime
 * failure is logged, never raised, and the next deploy or resume converges on the database. Each op ends
 * with the validator's post-apply subset. Deckies are found by their own name, LANs by name.
 */
import { Effect, Either, Option, ParseResult, Ref, Schema } from "effect"
import { IpAllocator, SubnetAllocator } from "./Allocators.js"
import { deckyNameOf } from "./Deploy.js"
import { MutationError, TopologyNotFound } from "./Errors.js"
import {
  DeckyConfig,
  type DeckyRow,
  type EdgeRow,
  LIVE_STATUSES,
  type LanRow,
  MUTATION_OPS,
  type MutationOp,
  type TopologyDetail
} from "./Model.js"
import { TopologyRuntime, type TopologyRuntimeError } from "./Runtime.js"
import { type LanPatch, TopologyRepo } from "./TopologyRepo.js"
import { errors, validatePostApply } from "./Validator.js"

/** Where `add_lan` takes a /24 when the payload names none (§5), skipping every held subnet. */
export const ADD_LAN_SUBNET_BASE = "172.16.0.0/12"

// ---- payloads ------------------------------------------------------------------------------------------------

const Name = Schema.String.pipe(Schema.minLength(1))
const Coord = Schema.optional(Schema.NullOr(Schema.Number))
const Patch = Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })))

export const AddLanPayload = Schema.Struct({
  name: Name,
  subnet: Schema.optional(Schema.NullOr(Schema.String)),
  is_dmz: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  x: Coord,
  y: Coord
})
export const RemoveLanPayload = Schema.Struct({ name: Name })
export const AddDeckyPayload = Schema.Struct({
  name: Name,
  lan: Name,
  services: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  archetype: Schema.optional(Schema.NullOr(Schema.String)),
  forwards_l3: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  ip: Schema.optional(Schema.NullOr(Schema.String)),
  x: Coord,
  y: Coord
})
export const AttachDeckyPayload = Schema.Struct({
  decky: Name,
  lan: Name,
  ip: Schema.optional(Schema.NullOr(Schema.String)),
  forwards_l3: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export const DetachDeckyPayload = Schema.Struct({ decky: Name, lan: Name })
export const RemoveDeckyPayload = Schema.Struct({ decky: Name })
export const UpdateDeckyPayload = Schema.Struct({
  decky: Name,
  /** Shallow-merged into decky_config. */
  patch: Patch,
  /** Replaces the decky's services. */
  services: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  x: Coord,
  y: Coord,
  /** Required to flip forwards_l3 on a live decky (it is recreated). */
  force: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export const UpdateLanPayload = Schema.Struct({ name: Name, patch: Patch, x: Coord, y: Coord })

/** The LAN fields `update_lan`'s patch may set. */
const LanPatchFields = Schema.Struct({
  name: Schema.optional(Name),
  subnet: Schema.optional(Schema.String),
  is_dmz: Schema.optional(Schema.Boolean),
  docker_network_id: Schema.optional(Schema.NullOr(Schema.String)),
  x: Coord,
  y: Coord
})

const fail = (message: string) => Effect.fail(new MutationError({ message }))

/** The first problem, as one line: `add_lan: name: is missing`. */
const decodePayload =
  <A, I>(op: string, schema: Schema.Schema<A, I>) =>
  (payload: unknown): Effect.Effect<A, MutationError> =>
    Schema.decodeUnknown(schema)(payload).pipe(
      Effect.mapError((e) => {
        const first = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
        const where = first === undefined || first.path.length === 0 ? "" : `${first.path.join(".")}: `
        return new MutationError({
          message: `${op}: invalid payload: ${where}${first?.message ?? e.message}`
        })
      })
    )

// ---- lookups -----------------------------------------------------------------------------------------------

const findLan = (t: TopologyDetail, name: string): Option.Option<LanRow> =>
  Option.fromNullable(t.lans.find((l) => l.name === name))

const findDecky = (t: TopologyDetail, name: string): Option.Option<DeckyRow> =>
  Option.fromNullable(t.deckies.find((d) => deckyNameOf(d) === name))

const edgesOf = (t: TopologyDetail, deckyUuid: string): ReadonlyArray<EdgeRow> =>
  t.edges.filter((e) => e.decky_uuid === deckyUuid)

const ipsOf = (d: DeckyRow): Readonly<Record<string, string>> => d.decky_config?.ips_by_lan ?? {}

/** The home LAN: the first entry of `ips_by_lan`. */
const homeLanName = (d: DeckyRow): string | undefined => Object.keys(ipsOf(d))[0]

/** The next address of `lan` no decky holds (the gateway `.1` is never handed out). */
const nextFreeIp = (t: TopologyDetail, lan: LanRow) =>
  Effect.gen(function* () {
    const alloc = yield* IpAllocator.make(lan.subnet)
    for (const d of t.deckies) {
      const ip = ipsOf(d)[lan.name]
      if (ip !== undefined) alloc.reserve(ip)
    }
    return yield* alloc.nextFree()
  })

const withoutKey = (ips: Readonly<Record<string, string>>, key: string): Record<string, string> =>
  Object.fromEntries(Object.entries(ips).filter(([k]) => k !== key))

// ---- the op frame ------------------------------------------------------------------------------------------

/** Work that follows the op's commit: a runtime call (logged, never failing) or a write that depends on it. */
type AfterCommit = Effect.Effect<void, never, TopologyRepo>

interface OpContext {
  readonly topologyId: string
  /** The topology as it was before the op. */
  readonly before: TopologyDetail
  /** Active or degraded, and not pinned to an agent: the runtime follows the database. */
  readonly live: boolean
  /** What runs after the commit, in order: the runtime never waits inside the op's transaction. */
  readonly later: Ref.Ref<ReadonlyArray<AfterCommit>>
  /** The topology as written, for the post-apply check, which judges it after the runtime has followed. */
  readonly written: Ref.Ref<Option.Option<TopologyDetail>>
}

const hydrate = (topologyId: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const detail = yield* repo.hydrate(topologyId)
    if (Option.isNone(detail)) return yield* new TopologyNotFound({ what: "topology", id: topologyId })
    return detail.value
  })

const contextOf = (topologyId: string) =>
  Effect.gen(function* () {
    const before = yield* hydrate(topologyId)
    return {
      topologyId,
      before,
      live: LIVE_STATUSES.includes(before.topology.status) && before.topology.target_host_uuid === null,
      later: yield* Ref.make<ReadonlyArray<AfterCommit>>([]),
      written: yield* Ref.make(Option.none<TopologyDetail>())
    } satisfies OpContext
  })

/** `work` runs once the op's writes are committed. */
const afterCommit = (ctx: OpContext, work: AfterCommit) => Ref.update(ctx.later, (xs) => [...xs, work])

/** Ask the runtime to follow, when the topology is live (after the commit); a failure is logged with what it was. */
const materialise = (ctx: OpContext, what: string, call: Effect.Effect<void, TopologyRuntimeError>) =>
  !ctx.live
    ? Effect.void
    : afterCommit(
        ctx,
        Effect.catchAll(call, (e) =>
          Effect.logWarning(
            `topology ${ctx.before.topology.name}: ${what} on the runtime failed (the database holds the change): ${e.message}`
          )
        )
      )

/** §8: the post-apply subset, judged on `after` once the op is committed and the runtime has followed. */
const postApply = (ctx: OpContext, after: TopologyDetail) => Ref.set(ctx.written, Option.some(after))

/** Any error of the post-apply subset fails the op with the sorted, unique codes. */
const verdict = (topologyId: string, after: TopologyDetail) => {
  const codes = [...new Set(errors(validatePostApply(after)).map((i) => i.code))].sort()
  return codes.length === 0
    ? Effect.void
    : fail(`post-apply validation failed for ${topologyId}: ${codes.join(", ")}`)
}

// ---- the ops -----------------------------------------------------------------------------------------------

const addLan = (ctx: OpContext, payload: typeof AddLanPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const subnet =
      payload.subnet !== undefined && payload.subnet !== null
        ? payload.subnet
        : yield* Either.flatMap(
            SubnetAllocator.make(ADD_LAN_SUBNET_BASE, yield* repo.reservedSubnets()),
            (a) => a.nextFree()
          )
    const lan = yield* repo.addLan(
      {
        topology_id: ctx.topologyId,
        name: payload.name,
        subnet,
        is_dmz: payload.is_dmz,
        x: payload.x,
        y: payload.y
      },
      {}
    )
    const after = yield* hydrate(ctx.topologyId)
    yield* materialise(ctx, `add LAN ${lan.name}`, runtime.addLan(after, lan))
    yield* postApply(ctx, after)
  })

const removeLan = (ctx: OpContext, payload: typeof RemoveLanPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const lan = findLan(ctx.before, payload.name)
    if (Option.isNone(lan)) return yield* fail(`LAN '${payload.name}' not found`)
    const homed = ctx.before.deckies.find((d) => homeLanName(d) === payload.name)
    if (homed !== undefined)
      return yield* fail(
        `LAN '${payload.name}' is the home LAN of decky '${deckyNameOf(homed)}'; remove the decky first`
      )
    const visitors: Array<string> = []
    for (const edge of ctx.before.edges.filter((e) => e.lan_id === lan.value.id)) {
      const decky = ctx.before.deckies.find((d) => d.uuid === edge.decky_uuid)
      if (decky !== undefined) {
        yield* repo.updateDecky(
          decky.uuid,
          { decky_config: { ...decky.decky_config, ips_by_lan: withoutKey(ipsOf(decky), payload.name) } },
          { enforcePending: false }
        )
        visitors.push(decky.uuid)
      }
      yield* repo.deleteEdge(edge.id, { enforcePending: false })
    }
    yield* repo.deleteLan(lan.value.id, { enforcePending: false })
    const after = yield* hydrate(ctx.topologyId)
    for (const uuid of visitors) {
      const decky = after.deckies.find((d) => d.uuid === uuid)
      if (decky !== undefined)
        yield* materialise(
          ctx,
          `detach ${deckyNameOf(decky)} from ${payload.name}`,
          runtime.detach(after, decky, lan.value)
        )
    }
    yield* materialise(ctx, `remove LAN ${payload.name}`, runtime.removeLan(after, lan.value))
    yield* postApply(ctx, after)
  })

const addDecky = (ctx: OpContext, payload: typeof AddDeckyPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    if (ctx.before.deckies.some((d) => d.name === payload.name || deckyNameOf(d) === payload.name))
      return yield* fail(`decky '${payload.name}' already exists`)
    const lan = findLan(ctx.before, payload.lan)
    if (Option.isNone(lan)) return yield* fail(`LAN '${payload.lan}' not found`)
    const ip =
      payload.ip !== undefined && payload.ip !== null ? payload.ip : yield* nextFreeIp(ctx.before, lan.value)
    const decky = yield* repo.addDecky({
      topology_id: ctx.topologyId,
      name: payload.name,
      services: payload.services,
      decky_config: {
        name: payload.name,
        ips_by_lan: { [lan.value.name]: ip },
        ...(payload.archetype !== undefined && payload.archetype !== null
          ? { archetype: payload.archetype }
          : {}),
        ...(payload.forwards_l3 ? { forwards_l3: true } : {})
      },
      x: payload.x,
      y: payload.y
    })
    yield* repo.addEdge({
      topology_id: ctx.topologyId,
      decky_uuid: decky.uuid,
      lan_id: lan.value.id,
      is_bridge: false,
      forwards_l3: payload.forwards_l3
    })
    const after = yield* hydrate(ctx.topologyId)
    const row = after.deckies.find((d) => d.uuid === decky.uuid) ?? decky
    if (ctx.live)
      yield* afterCommit(
        ctx,
        Effect.gen(function* () {
          const started = yield* runtime.addDecky(after, row).pipe(Effect.either)
          if (Either.isRight(started)) return yield* repo.setDeckyState(decky.uuid, "running")
          yield* Effect.logWarning(
            `topology ${ctx.before.topology.name}: start ${payload.name} on the runtime failed (the database holds the change): ${started.left.message}`
          )
          yield* repo.setDeckyState(decky.uuid, "failed", started.left.message)
        })
      )
    yield* postApply(ctx, after)
  })

const attachDecky = (ctx: OpContext, payload: typeof AttachDeckyPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const lan = findLan(ctx.before, payload.lan)
    if (Option.isNone(lan)) return yield* fail(`LAN '${payload.lan}' not found`)
    const decky = findDecky(ctx.before, payload.decky)
    if (Option.isNone(decky)) return yield* fail(`decky '${payload.decky}' not found`)
    if (edgesOf(ctx.before, decky.value.uuid).some((e) => e.lan_id === lan.value.id))
      return yield* fail(`decky '${payload.decky}' already on LAN '${payload.lan}'`)
    const ip =
      payload.ip !== undefined && payload.ip !== null ? payload.ip : yield* nextFreeIp(ctx.before, lan.value)
    yield* repo.updateDecky(
      decky.value.uuid,
      {
        decky_config: {
          ...decky.value.decky_config,
          ips_by_lan: { ...ipsOf(decky.value), [lan.value.name]: ip },
          ...(payload.forwards_l3 ? { forwards_l3: true } : {})
        }
      },
      { enforcePending: false }
    )
    yield* repo.addEdge({
      topology_id: ctx.topologyId,
      decky_uuid: decky.value.uuid,
      lan_id: lan.value.id,
      is_bridge: true,
      forwards_l3: payload.forwards_l3
    })
    const after = yield* hydrate(ctx.topologyId)
    const row = after.deckies.find((d) => d.uuid === decky.value.uuid) ?? decky.value
    yield* materialise(
      ctx,
      `attach ${payload.decky} to ${payload.lan}`,
      runtime.attach(after, row, lan.value, ip)
    )
    yield* postApply(ctx, after)
  })

const detachDecky = (ctx: OpContext, payload: typeof DetachDeckyPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const lan = findLan(ctx.before, payload.lan)
    const decky = findDecky(ctx.before, payload.decky)
    if (Option.isNone(lan) || Option.isNone(decky)) return yield* fail("decky or LAN not found")
    const memberships = edgesOf(ctx.before, decky.value.uuid)
    if (memberships.length === 0) return yield* fail(`decky '${payload.decky}' has no LAN memberships`)
    if (homeLanName(decky.value) === payload.lan)
      return yield* fail(`cannot detach home LAN '${payload.lan}'; use remove_decky`)
    const edge = memberships.find((e) => e.lan_id === lan.value.id)
    if (edge === undefined) return yield* fail(`decky not attached to LAN '${payload.lan}'`)
    yield* repo.updateDecky(
      decky.value.uuid,
      {
        decky_config: {
          ...decky.value.decky_config,
          ips_by_lan: withoutKey(ipsOf(decky.value), payload.lan)
        }
      },
      { enforcePending: false }
    )
    yield* repo.deleteEdge(edge.id, { enforcePending: false })
    const after = yield* hydrate(ctx.topologyId)
    const row = after.deckies.find((d) => d.uuid === decky.value.uuid) ?? decky.value
    yield* materialise(
      ctx,
      `detach ${payload.decky} from ${payload.lan}`,
      runtime.detach(after, row, lan.value)
    )
    yield* postApply(ctx, after)
  })

const removeDecky = (ctx: OpContext, payload: typeof RemoveDeckyPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const decky = findDecky(ctx.before, payload.decky)
    if (Option.isNone(decky)) return yield* fail(`decky '${payload.decky}' not found`)
    yield* repo.deleteDecky(decky.value.uuid, { enforcePending: false })
    const after = yield* hydrate(ctx.topologyId)
    yield* materialise(ctx, `remove ${payload.decky}`, runtime.removeDecky(after, decky.value))
    yield* postApply(ctx, after)
  })

const decodeDeckyConfig = decodePayload("update_decky", DeckyConfig)

const updateDecky = (ctx: OpContext, payload: typeof UpdateDeckyPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const decky = findDecky(ctx.before, payload.decky)
    if (Option.isNone(decky)) return yield* fail(`decky '${payload.decky}' not found`)
    const patch = payload.patch ?? undefined
    const services = payload.services ?? undefined
    if (patch === undefined && services === undefined && payload.x === undefined && payload.y === undefined)
      return
    const current = decky.value.decky_config ?? {}
    const merged = yield* decodeDeckyConfig({
      ...current,
      ...patch,
      ...(services !== undefined && current.services !== undefined ? { services } : {})
    })
    const wasGateway = current.forwards_l3 === true
    const flips =
      patch !== undefined && "forwards_l3" in patch && (merged.forwards_l3 === true) !== wasGateway
    if (flips && !wasGateway) {
      const edges = edgesOf(ctx.before, decky.value.uuid)
      const home = edges.find((e) => !e.is_bridge) ?? edges[0]
      const homeLan = ctx.before.lans.find((l) => l.id === home?.lan_id)
      if (homeLan === undefined || !homeLan.is_dmz)
        return yield* fail(
          `cannot promote decky '${payload.decky}' to gateway: home LAN '${homeLan?.name ?? "none"}' is not a DMZ; gateways must home in a DMZ LAN`
        )
    }
    if (flips && ctx.live && !payload.force)
      return yield* fail(
        `forwards_l3 flip on live decky '${payload.decky}' requires force=true; the decky is recreated and its open connections drop`
      )
    yield* repo.updateDecky(
      decky.value.uuid,
      {
        ...(patch !== undefined || services !== undefined ? { decky_config: merged } : {}),
        services,
        x: payload.x,
        y: payload.y
      },
      { enforcePending: false }
    )
    const after = yield* hydrate(ctx.topologyId)
    const row = after.deckies.find((d) => d.uuid === decky.value.uuid) ?? decky.value
    if (flips) yield* materialise(ctx, `recreate ${payload.decky}`, runtime.recreate(after, row))
    else if (services !== undefined) {
      const added = services.filter((s) => !decky.value.services.includes(s))
      const removed = decky.value.services.filter((s) => !services.includes(s))
      if (added.length + removed.length > 0)
        yield* materialise(
          ctx,
          `update the services of ${payload.decky}`,
          runtime.updateServices(after, row, added, removed)
        )
    }
    yield* postApply(ctx, after)
  })

const decodeLanPatch = decodePayload("update_lan", LanPatchFields)

/** The LAN fields only the editor's map reads. */
const LAYOUT_LAN_FIELDS = ["x", "y", "docker_network_id"] as const

/**
 * The LAN fields a deployed LAN cannot change: its network would have to be rebuilt (the subnet, the DMZ's
 * `internal` flag) or renamed (the Docker network and the deckies' memberships are named after the LAN).
 */
const FROZEN_LAN_FIELDS = ["subnet", "is_dmz", "name"] as const

const updateLan = (ctx: OpContext, payload: typeof UpdateLanPayload.Type) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const lan = findLan(ctx.before, payload.name)
    if (Option.isNone(lan)) return yield* fail(`LAN '${payload.name}' not found`)
    const raw = payload.patch ?? {}
    if (Object.keys(raw).length === 0 && payload.x === undefined && payload.y === undefined) return
    const frozen = FROZEN_LAN_FIELDS.filter((k) => k in raw)
    if (ctx.live && frozen.length > 0)
      return yield* fail(
        `cannot change [${frozen.map((k) => `'${k}'`).join(", ")}] on a deployed LAN; teardown + redeploy required`
      )
    const fields = yield* decodeLanPatch(raw)
    const patch: LanPatch = {
      ...fields,
      ...(payload.x !== undefined ? { x: payload.x } : {}),
      ...(payload.y !== undefined ? { y: payload.y } : {})
    }
    const updated = yield* repo.updateLan(lan.value.id, patch, { enforcePending: false })
    // Coordinates and names are the database's alone: the runtime is not asked. No rule reads a LAN's
    // coordinates, so a layout-only edit (the map's drags, the common case) is checked on the topology as
    // read with the LAN as written, without reading it all again.
    const layoutOnly = Object.keys(patch).every((k) => LAYOUT_LAN_FIELDS.some((f) => f === k))
    yield* postApply(
      ctx,
      layoutOnly
        ? { ...ctx.before, lans: ctx.before.lans.map((l) => (l.id === updated.id ? updated : l)) }
        : yield* hydrate(ctx.topologyId)
    )
  })

// ---- dispatch ----------------------------------------------------------------------------------------------

const op =
  <A, I, E, R>(
    name: MutationOp,
    schema: Schema.Schema<A, I>,
    body: (ctx: OpContext, payload: A) => Effect.Effect<void, E, R>
  ) =>
  (topologyId: string, payload: unknown) =>
    Effect.gen(function* () {
      const decoded = yield* decodePayload(name, schema)(payload)
      const repo = yield* TopologyRepo
      // Read, write and re-read in one transaction under the topology's lock: an op commits whole or not
      // at all (a crash mid-op leaves its row `applying` and nothing half-written), and ops on one topology
      // from two processes' reconcilers never interleave. Then the runtime follows, then the check.
      const { later, written } = yield* repo.withTopologyLock(
        topologyId,
        Effect.gen(function* () {
          const ctx = yield* contextOf(topologyId)
          yield* body(ctx, decoded)
          return { later: yield* Ref.get(ctx.later), written: yield* Ref.get(ctx.written) }
        })
      )
      for (const work of later) yield* work
      if (Option.isSome(written)) yield* verdict(topologyId, written.value)
    }).pipe(Effect.withSpan(`Topology.op.${name}`, { attributes: { topologyId } }))

/** §8 DISPATCH: exactly the eight ops. */
export const OPS = {
  add_lan: op("add_lan", AddLanPayload, addLan),
  remove_lan: op("remove_lan", RemoveLanPayload, removeLan),
  add_decky: op("add_decky", AddDeckyPayload, addDecky),
  attach_decky: op("attach_decky", AttachDeckyPayload, attachDecky),
  detach_decky: op("detach_decky", DetachDeckyPayload, detachDecky),
  remove_decky: op("remove_decky", RemoveDeckyPayload, removeDecky),
  update_decky: op("update_decky", UpdateDeckyPayload, updateDecky),
  update_lan: op("update_lan", UpdateLanPayload, updateLan)
} as const satisfies Record<MutationOp, unknown>

const isOp = (name: string): name is MutationOp => MUTATION_OPS.some((o) => o === name)

/** A payload as the queue holds it: JSON text (empty is `{}`) or an already parsed object. */
export const parsePayload = (payload: unknown): Effect.Effect<Record<string, unknown>, MutationError> => {
  let value = payload
  if (typeof payload === "string") {
    try {
      value = payload.trim() === "" ? {} : JSON.parse(payload)
    } catch (e) {
      return fail(`payload is not JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail("payload must be a JSON object")
  return Effect.succeed(Object.fromEntries(Object.entries(value)))
}

/** Apply one queued op to a topology; an unknown op is `MutationError "unknown op: 'x'"`. */
export const dispatch = (topologyId: string, opName: string, payload: unknown) =>
  Effect.gen(function* () {
    if (!isOp(opName)) return yield* fail(`unknown op: '${opName}'`)
    const body = yield* parsePayload(payload)
    return yield* OPS[opName](topologyId, body)
  })
