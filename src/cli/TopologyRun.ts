// The bodies of `decnet topology …`, loaded only when one of them runs. They talk to the database directly
// (TopologyRepo over the configured database, migrated first) and share the API's rules (Create.ts,
// Lifecycle.ts, Deploy.ts), so a command and the matching route refuse with the same words. `--json`
// prints the API's shapes, encoded by the model's Schemas.
import { Terminal } from "@effect/platform"
import { Console, Data, Effect, Either, Layer, Option, Schema } from "effect"
import { DbLive } from "../db/Client.js"
import { MigrationsLive } from "../db/Migrations.js"
import { optionalBus } from "../fleet/WorkerLayers.js"
import { describeParseError, generateTopology } from "../topology/Create.js"
import { deployTopology, teardownTopology } from "../topology/Deploy.js"
import { TopologyNotFound } from "../topology/Errors.js"
import { homeLanOf } from "../topology/Generator.js"
import { LazyDockerTopology } from "../topology/LazyRuntime.js"
import { checkDeletable, checkTearable, deleteTopology, enqueueMutation } from "../topology/Lifecycle.js"
import {
  type MutationOp,
  MutationRow,
  type MutationRowState,
  StatusEventRow,
  TopologyConfig,
  TopologyDetail,
  type TopologyStatus,
  TopologySummary
} from "../topology/Model.js"
import { OperationOwnerName } from "../topology/Owner.js"
import { resumeInterrupted } from "../topology/Recovery.js"
import { DeckyMaterialState } from "../topology/Runtime.js"
import { TopologyRepo } from "../topology/TopologyRepo.js"
import { plainTable } from "./Table.js"

export class TopologyCliError extends Data.TaggedError("TopologyCliError")<{ readonly message: string }> {}

/** TopologyRepo and the database under it, migrated (Create.ts and the placement check read SQL too). */
const DataLive = TopologyRepo.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(DbLive))

/** Who a deploy or teardown run here is recorded as (Owner.ts): the command, which a rerun resumes. */
const OWNER = "decnet topology"

/** The bus, for the hints a status move or a queued mutation sends (none when it cannot be reached). */
const hints = optionalBus("decnet-topology")

const encodeSummary = Schema.encodeSync(TopologySummary)
const encodeSummaries = Schema.encodeSync(Schema.Array(TopologySummary))
const encodeDetail = Schema.encodeSync(TopologyDetail)
const encodeMutations = Schema.encodeSync(Schema.Array(MutationRow))
const encodeEvents = Schema.encodeSync(Schema.Array(StatusEventRow))
const encodeStates = Schema.encodeSync(Schema.Array(DeckyMaterialState))
const decodeConfig = Schema.decodeUnknownEither(TopologyConfig.from)
const decodePayload = Schema.decodeUnknownEither(
  Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
)

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))
const fail = (message: string) => Effect.fail(new TopologyCliError({ message }))
const stamp = (d: Date) => d.toISOString().replace("T", " ").slice(0, 19)

/** A topology by id, or else by its (unique) name. */
const resolve = (ref: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const byId = yield* repo.getTopology(ref)
    if (Option.isSome(byId)) return byId.value
    for (let offset = 0; ; offset += 500) {
      const page = yield* repo.listTopologies({ limit: 500, offset })
      const named = page.data.find((t) => t.name === ref)
      if (named !== undefined) return named
      if (page.data.length < 500) return yield* new TopologyNotFound({ what: "topology", id: ref })
    }
  })

// ---- generate -----------------------------------------------------------------------------------------

export interface GenerateOptions {
  readonly name: string
  readonly depth: number
  readonly branching: number
  readonly deckiesPerLan: string
  readonly bridgeForwardP: number
  readonly crossEdgeP: number
  readonly services: string | null
  readonly randomizeServices: boolean
  readonly noRandomizeServices: boolean
  readonly seed: number | null
  readonly json: boolean
}

/** `--deckies-per-lan MIN-MAX`. */
export const parseRange = (text: string): Either.Either<readonly [number, number], TopologyCliError> => {
  const m = /^(\d+)-(\d+)$/.exec(text.trim())
  return m === null
    ? Either.left(
        new TopologyCliError({ message: `--deckies-per-lan must be MIN-MAX (e.g. 1-3), got '${text}'` })
      )
    : Either.right([Number(m[1]), Number(m[2])] as const)
}

export const runGenerate = (o: GenerateOptions) =>
  Effect.gen(function* () {
    const [min, max] = yield* parseRange(o.deckiesPerLan)
    if (o.randomizeServices && o.noRandomizeServices)
      return yield* fail("give at most one of --randomize-services and --no-randomize-services")
    const services =
      o.services === null
        ? null
        : o.services
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
    // Explicit services turn random ones off (§10).
    const randomize = services !== null && services.length > 0 ? false : !o.noRandomizeServices
    const config = decodeConfig({
      name: o.name,
      depth: o.depth,
      branching_factor: o.branching,
      deckies_per_lan_min: min,
      deckies_per_lan_max: max,
      bridge_forward_probability: o.bridgeForwardP,
      cross_edge_probability: o.crossEdgeP,
      randomize_services: randomize,
      services_explicit: services,
      seed: o.seed
    })
    if (Either.isLeft(config)) return yield* fail(describeParseError(config.left))
    const { topology, plan } = yield* generateTopology(config.right)
    if (o.json) return yield* printJson(encodeSummary(topology))
    yield* Console.log(
      `Generated topology ${topology.name} (${topology.id}): ${plan.lans.length} LANs, ${plan.deckies.length} deckies, ${plan.edges.length} edges; seed ${plan.config.seed}.`
    )
    yield* Console.log(`Status pending. Inspect it with \`decnet topology show ${topology.name}\`.`)
  }).pipe(Effect.provide(DataLive))

// ---- list and show ------------------------------------------------------------------------------------

export const runList = (o: { readonly status: TopologyStatus | undefined; readonly json: boolean }) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const all: Array<TopologySummary> = []
    for (let offset = 0; ; offset += 500) {
      const page = yield* repo.listTopologies({ status: o.status, limit: 500, offset })
      all.push(...page.data)
      if (page.data.length < 500) break
    }
    if (o.json) return yield* printJson(encodeSummaries(all))
    if (all.length === 0) return yield* Console.log("No topologies.")
    yield* Console.log(
      plainTable(
        ["ID", "NAME", "STATUS", "MODE", "VERSION", "CREATED"],
        all.map((t) => [t.id, t.name, t.status, t.mode, String(t.version), stamp(t.created_at)])
      )
    )
  }).pipe(Effect.provide(DataLive))

/** `show`: the topology LAN by LAN; each decky on a LAN with its address there and its role on it. */
export const renderDetail = (d: TopologyDetail): string => {
  const t = d.topology
  const lines = [
    `${t.name} (${t.id})`,
    `status ${t.status}, ${t.mode}${t.target_host_uuid === null ? "" : ` on ${t.target_host_uuid}`}, version ${t.version}, ${d.lans.length} LANs, ${d.deckies.length} deckies`
  ]
  const deckyByUuid = new Map(d.deckies.map((x) => [x.uuid, x]))
  for (const lan of d.lans) {
    lines.push("", `${lan.name}  ${lan.subnet}${lan.is_dmz ? "  DMZ" : ""}`)
    const rows = d.edges
      .filter((e) => e.lan_id === lan.id)
      .flatMap((e) => {
        const decky = deckyByUuid.get(e.decky_uuid)
        if (decky === undefined) return []
        const ips = decky.decky_config?.ips_by_lan ?? {}
        const home = homeLanOf({ ips_by_lan: ips })
        const tags = [
          ...(e.is_bridge ? ["bridge"] : []),
          ...(e.forwards_l3 ? ["L3-forward"] : []),
          ...(home !== undefined && home !== lan.name ? [`home ${home}`] : [])
        ]
        return [
          [
            decky.name,
            ips[lan.name] ?? "-",
            decky.state,
            decky.services.length === 0 ? "-" : decky.services.join(","),
            tags.join(", ")
          ]
        ]
      })
      .sort((a, b) => ((a[0] ?? "") < (b[0] ?? "") ? -1 : 1))
    if (rows.length === 0) lines.push("  (no deckies)")
    else
      lines.push(
        ...plainTable(["DECKY", "IP", "STATE", "SERVICES", "ROLE"], rows)
          .split("\n")
          .map((l) => `  ${l}`)
      )
  }
  const orphans = d.deckies.filter((x) => !d.edges.some((e) => e.decky_uuid === x.uuid))
  if (orphans.length > 0) lines.push("", `not on any LAN: ${orphans.map((x) => x.name).join(", ")}`)
  return lines.join("\n")
}

const hydrate = (ref: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const t = yield* resolve(ref)
    const detail = yield* repo.hydrate(t.id)
    if (Option.isNone(detail)) return yield* new TopologyNotFound({ what: "topology", id: ref })
    return detail.value
  })

export const runShow = (o: { readonly topology: string; readonly json: boolean }) =>
  Effect.gen(function* () {
    const detail = yield* hydrate(o.topology)
    if (o.json) return yield* printJson(encodeDetail(detail))
    yield* Console.log(renderDetail(detail))
    const repo = yield* TopologyRepo
    const last = (yield* repo.listStatusEvents(detail.topology.id, 1))[0]
    if (last?.reason !== null && last?.reason !== undefined)
      yield* Console.log(`\nlast status change (${last.from_status} → ${last.to_status}): ${last.reason}`)
  }).pipe(Effect.provide(DataLive))

// ---- deploy, teardown, delete -------------------------------------------------------------------------

type RuntimeChoice = "docker" | "inprocess"

/**
 * The runtime a command drives. An in-process topology lives inside the process that runs it, so it is
 * deployed by `decnet up` (its API), never by a command that exits when it is done.
 */
const runtimeLayer = (runtime: RuntimeChoice, topology: string) =>
  runtime === "docker"
    ? Effect.succeed(LazyDockerTopology)
    : fail(
        `an in-process topology runs inside \`decnet up\`: deploy it there (POST /api/v1/topologies/<id>/deploy on up's API, or the dashboard), not with a command that exits when done; \`decnet topology deploy ${topology}\` deploys it on Docker`
      )

export const runDeploy = (o: {
  readonly topology: string
  readonly dryRun: boolean
  readonly runtime: RuntimeChoice
  readonly json: boolean
}) =>
  Effect.gen(function* () {
    const t = yield* resolve(o.topology)
    if (o.dryRun) {
      const planned = yield* deployTopology(t.id, { dryRun: true }).pipe(Effect.provide(LazyDockerTopology))
      if (planned._tag !== "Planned") return yield* fail("a dry run deployed something")
      if (o.json)
        return yield* printJson({ topology: encodeDetail(planned.topology), warnings: planned.warnings })
      const d = planned.topology
      for (const w of planned.warnings) yield* Console.log(`warning [${w.code}] ${w.message}`)
      return yield* Console.log(
        `Topology ${t.name} is valid: ${d.lans.length} LANs, ${d.deckies.length} deckies, ${d.edges.length} edges. Dry run: nothing started, status stays ${t.status}.`
      )
    }
    // A deploy a stopped process left unfinished is finished here (refused, naming its owner, if that runs).
    if (t.status !== "pending" && t.status !== "deploying")
      return yield* fail(`Topology is '${t.status}'; only a pending topology can be deployed.`)
    if (t.target_host_uuid !== null)
      return yield* fail(
        `topology ${t.name} is pinned to swarm host '${t.target_host_uuid}': its agent deploys it, and agent deploys come with the swarm (not in this build)`
      )
    const runtime = yield* runtimeLayer(o.runtime, o.topology)
    const outcome = yield* Effect.if(t.status === "deploying", {
      onTrue: () => resumeInterrupted(t.id),
      onFalse: () => deployTopology(t.id)
    }).pipe(Effect.provide(Layer.merge(runtime, hints)), Effect.provideService(OperationOwnerName, OWNER))
    if (outcome._tag !== "Deployed") return yield* fail("the deploy planned instead of deploying")
    if (o.json)
      return yield* printJson({
        id: t.id,
        status: outcome.status,
        reason: outcome.reason,
        deckies: encodeStates(outcome.deckies)
      })
    yield* Console.log(
      plainTable(
        ["DECKY", "STATE", "DETAIL"],
        outcome.deckies.map((s) => [s.decky, s.state, s.detail])
      )
    )
    yield* Console.log(
      outcome.status === "active"
        ? `\nTopology ${t.name} is active (${outcome.deckies.length} deckies running).`
        : `\nTopology ${t.name} is degraded: ${outcome.reason ?? "some deckies are not running"}.`
    )
  }).pipe(Effect.provide(DataLive))

export const runTeardown = (o: {
  readonly topology: string
  readonly runtime: RuntimeChoice
  readonly json: boolean
}) =>
  Effect.gen(function* () {
    const t = yield* resolve(o.topology)
    // A teardown a stopped process left unfinished is finished here (refused, naming its owner, if that runs).
    if (t.status !== "tearing_down") yield* checkTearable(t)
    const runtime = yield* runtimeLayer(o.runtime, o.topology)
    yield* Effect.if(t.status === "tearing_down", {
      onTrue: () => resumeInterrupted(t.id),
      onFalse: () => teardownTopology(t.id)
    }).pipe(Effect.provide(Layer.merge(runtime, hints)), Effect.provideService(OperationOwnerName, OWNER))
    const repo = yield* TopologyRepo
    const events = yield* repo.listStatusEvents(t.id, 10)
    if (o.json) return yield* printJson({ id: t.id, status: "torn_down", events: encodeEvents(events) })
    yield* Console.log(`Topology ${t.name} is torn down; its subnets are free again.`)
  }).pipe(Effect.provide(DataLive))

/** Asks on the terminal; anything but y/yes is no. */
const confirm = (question: string) =>
  Effect.gen(function* () {
    const terminal = yield* Terminal.Terminal
    yield* terminal.display(`${question} [y/N] `)
    const answer = yield* terminal.readLine.pipe(Effect.orElseSucceed(() => ""))
    return /^y(es)?$/i.test(answer.trim())
  }).pipe(Effect.orElseSucceed(() => false))

export const runDelete = (o: {
  readonly topology: string
  readonly force: boolean
  readonly json: boolean
}) =>
  Effect.gen(function* () {
    const t = yield* resolve(o.topology)
    yield* checkDeletable(t).pipe(
      Effect.catchTag("TopologyStatusError", (e) =>
        fail(`${e.message} Run \`decnet topology teardown ${t.name}\` first, then delete it.`)
      )
    )
    if (
      !o.force &&
      !(yield* confirm(`Delete topology ${t.name} (${t.id}) and all its LANs, deckies and edges?`))
    )
      return yield* fail("not deleted (confirm with y, or pass --force)")
    yield* deleteTopology(t.id)
    if (o.json) return yield* printJson({ id: t.id, deleted: true })
    yield* Console.log(`Deleted topology ${t.name} (${t.id}).`)
  }).pipe(Effect.provide(DataLive))

// ---- mutations ----------------------------------------------------------------------------------------

export const runMutate = (o: {
  readonly topology: string
  readonly op: MutationOp
  readonly payloadJson: string
  readonly expectedVersion: number | undefined
  readonly json: boolean
}) =>
  Effect.gen(function* () {
    const payload = decodePayload(o.payloadJson)
    if (Either.isLeft(payload))
      return yield* fail(`--payload-json must be one JSON object: ${describeParseError(payload.left)}`)
    const t = yield* resolve(o.topology)
    const accepted = yield* enqueueMutation(t.id, o.op, payload.right, o.expectedVersion).pipe(
      Effect.provide(hints)
    )
    if (o.json) return yield* printJson(accepted)
    yield* Console.log(
      `Queued mutation ${accepted.mutation_id} (${o.op}) on topology ${t.name}; the reconciler applies it (\`decnet topology mutations ${t.name}\` shows its state).`
    )
  }).pipe(Effect.provide(DataLive))

export const runMutations = (o: {
  readonly topology: string
  readonly state: MutationRowState | undefined
  readonly json: boolean
}) =>
  Effect.gen(function* () {
    const t = yield* resolve(o.topology)
    const repo = yield* TopologyRepo
    const rows = yield* repo.listMutations(t.id, o.state)
    if (o.json) return yield* printJson(encodeMutations(rows))
    if (rows.length === 0) return yield* Console.log(`No mutations on topology ${t.name}.`)
    yield* Console.log(
      plainTable(
        ["ID", "OP", "STATE", "REQUESTED", "APPLIED", "PAYLOAD", "REASON"],
        rows.map((m) => [
          m.id,
          m.op,
          m.state,
          stamp(m.requested_at),
          m.applied_at === null ? "-" : stamp(m.applied_at),
          JSON.stringify(m.payload),
          m.reason ?? "-"
        ])
      )
    )
  }).pipe(Effect.provide(DataLive))
