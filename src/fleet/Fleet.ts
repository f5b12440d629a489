/**
 * The fleet's life (spec/fleet.md §6): deploy a Deployment on the runtime and record it, tear deckies
 * down, converge a running runtime to what the database says, and discover the host's network. The CLI
 * (`deploy`, `teardown`, `status`), `decnet up` and later the API all go through these.
 */
import { Effect, Either, Option, Schema } from "effect"
import type { Bus } from "../bus/Bus.js"
import type { EvidenceWriter } from "../collector/Writer.js"
import { emitDeckyMutated } from "../mutator/Events.js"
import { HostNetwork } from "./HostNetwork.js"
import { Decky, Deployment, type DeploymentState } from "./Model.js"
import { formatIpv4, parseSubnet } from "./Plan.js"
import {
  DeckyRuntime,
  type DeckyRuntimeError,
  type DeckyRuntimeService,
  type DeckyStatus
} from "./Runtime.js"
import { FleetStore } from "./Store.js"

export class FleetError extends Schema.TaggedError<FleetError>()("FleetError", { message: Schema.String }) {}

type FleetContext = FleetStore | DeckyRuntime | EvidenceWriter | Bus

const retire = (decky: Decky) =>
  emitDeckyMutated({
    decky: decky.name,
    old_services: [...decky.services],
    new_services: [],
    trigger: "retirement"
  })

const create = (decky: Decky) =>
  emitDeckyMutated({
    decky: decky.name,
    old_services: [],
    new_services: [...decky.services],
    trigger: "creation"
  })

/** How many deckies `deploy` brings up at once. */
const UP_CONCURRENCY = 4

/**
 * Run `deployment` and record it. Deckies of an earlier deployment it no longer has are retired and
 * stopped; new ones are announced (`decky_mutated` trigger creation). If a decky fails to come up,
 * the deckies this call started are stopped again and nothing is recorded.
 */
export const deploy = (
  deployment: Deployment
): Effect.Effect<DeploymentState, DeckyRuntimeError, FleetContext> =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const runtime = yield* DeckyRuntime
    const previous = yield* store.load()
    const before = Option.match(previous, { onNone: () => [], onSome: (p) => [...p.config.deckies] })
    const wanted = new Set(deployment.deckies.map((d) => d.name))
    const running = new Set((yield* runtime.status).map((s) => s.name))
    yield* runtime.prepare(deployment)
    // Deckies come up side by side (a Docker decky spends most of its start waiting for its services).
    const results = yield* Effect.forEach(
      deployment.deckies,
      (decky) => Effect.either(runtime.up(decky, deployment)),
      { concurrency: UP_CONCURRENCY }
    )
    const failure = results.find(Either.isLeft)
    if (failure !== undefined) {
      const started = deployment.deckies.filter((d, i) => {
        const r = results[i]
        return r !== undefined && Either.isRight(r) && !running.has(d.name)
      })
      yield* Effect.forEach(started, (d) => Effect.ignore(runtime.down(d.name)), { discard: true })
      return yield* Effect.fail(failure.left)
    }
    const ports: Record<string, DeploymentState["ports"][string]> = {}
    deployment.deckies.forEach((d, i) => {
      const r = results[i]
      if (r !== undefined && Either.isRight(r)) ports[d.name] = r.right
    })
    for (const old of before)
      if (!wanted.has(old.name)) {
        yield* retire(old)
        yield* runtime.down(old.name)
      }
    const state: DeploymentState = { config: deployment, ports }
    yield* store.save(state)
    const known = new Set(before.map((d) => d.name))
    for (const decky of deployment.deckies) if (!known.has(decky.name)) yield* create(decky)
    return state
  }).pipe(Effect.withSpan("Fleet.deploy"))

const encodeDecky = Schema.encodeSync(Decky)
/** A decky's stored form as text: two deckies with the same text run the same way. */
const deckyText = (d: Decky) => JSON.stringify(encodeDecky(d))

/**
 * Record a deployment for the in-process runtime without running it here: `decnet up` serves it (its
 * sync loop brings the runtime to what the database says).
 */
export const recordDeployment = (deployment: Deployment) =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const previous = yield* store.load()
    const before = Option.match(previous, { onNone: () => [], onSome: (p) => [...p.config.deckies] })
    const wanted = new Set(deployment.deckies.map((d) => d.name))
    for (const old of before) if (!wanted.has(old.name)) yield* retire(old)
    // Where each decky listens is kept only for deckies this deployment leaves as they were: a removed or
    // changed decky's ports are whatever `decnet up` binds next.
    const unchanged = (d: Decky) => before.some((b) => b.name === d.name && deckyText(b) === deckyText(d))
    const ports = Option.match(previous, {
      onNone: (): DeploymentState["ports"] => ({}),
      onSome: (p) =>
        Object.fromEntries(
          deployment.deckies.filter(unchanged).flatMap((d) => {
            const bound = p.ports[d.name]
            return bound === undefined ? [] : [[d.name, bound] as const]
          })
        )
    })
    yield* store.save({ config: deployment, ports })
    const known = new Set(before.map((d) => d.name))
    for (const decky of deployment.deckies) if (!known.has(decky.name)) yield* create(decky)
  })

export type TeardownTarget = { readonly _tag: "All" } | { readonly _tag: "One"; readonly name: string }

/**
 * Retire and stop deckies: one (`--id`), or all of them with what the runtime shares (`--all`). With
 * `apply: false` (an in-process fleet seen from another process) only the record changes; `decnet up`
 * then stops them.
 */
export const teardown = (
  target: TeardownTarget,
  options: { readonly apply: boolean }
): Effect.Effect<ReadonlyArray<string>, FleetError | DeckyRuntimeError, FleetContext> =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const runtime = yield* DeckyRuntime
    const current = yield* store.load()
    if (Option.isNone(current)) return yield* new FleetError({ message: "No active deployment found" })
    const { config, ports } = current.value
    const victims =
      target._tag === "All" ? [...config.deckies] : config.deckies.filter((d) => d.name === target.name)
    if (victims.length === 0 && target._tag === "One")
      return yield* new FleetError({
        message: `Decky ${target.name} not found; deployed: ${config.deckies.map((d) => d.name).join(", ")}`
      })
    for (const decky of victims) {
      yield* retire(decky)
      if (options.apply) yield* runtime.down(decky.name)
    }
    const left = config.deckies.filter((d) => !victims.includes(d))
    const [first, ...rest] = left
    if (first === undefined) {
      if (options.apply) yield* runtime.release(config)
      yield* store.clear()
    } else {
      const keptPorts = Object.fromEntries(
        Object.entries(ports).filter(([name]) => left.some((d) => d.name === name))
      )
      yield* store.save({
        config: new Deployment({ ...config, deckies: [first, ...rest] }),
        ports: keptPorts
      })
    }
    return victims.map((d) => d.name)
  }).pipe(Effect.withSpan("Fleet.teardown"))

/** What runs is what the record wants: the same services (in any order) on the decky's own address. */
const runsAsWanted = (status: DeckyStatus, decky: Decky) =>
  status.state === "running" &&
  status.services.length === decky.services.length &&
  decky.services.every((s) => status.services.some((r) => r.service === s && r.state === "running")) &&
  status.ports.every((p) => p.host === decky.ip)

/**
 * Bring the runtime to the stored deployment: start what is missing or changed, stop what is gone.
 * `decnet up` runs it on a schedule so a `deploy` / `teardown` / `mutate` made by another process takes
 * effect on its in-process fleet. What runs is read from the runtime itself, so a mutation this process
 * made (the runtime already swapped the services) is not applied twice. Returns how many deckies it
 * started and stopped; a decky that cannot start is marked failed and tried again on the next pass.
 */
export const syncRuntime: Effect.Effect<
  { readonly started: number; readonly stopped: number },
  never,
  FleetStore | DeckyRuntime
> = Effect.gen(function* () {
  const store = yield* FleetStore
  const runtime = yield* DeckyRuntime
  const current = yield* store.load()
  const statuses = yield* runtime.status.pipe(Effect.orElseSucceed((): ReadonlyArray<DeckyStatus> => []))
  const wanted = Option.match(current, {
    onNone: (): ReadonlyArray<Decky> => [],
    onSome: (c) => (c.config.runtime === runtime.kind ? c.config.deckies : [])
  })
  let started = 0
  let stopped = 0
  for (const status of statuses)
    if (!wanted.some((d) => d.name === status.name)) {
      yield* Effect.ignoreLogged(runtime.down(status.name))
      stopped++
    }
  if (Option.isNone(current)) return { started, stopped }
  for (const decky of wanted) {
    const now = statuses.find((s) => s.name === decky.name)
    if (now !== undefined && runsAsWanted(now, decky)) {
      // Running as wanted, but a deploy recorded it again (the record forgets a changed decky's ports).
      if (current.value.ports[decky.name] === undefined) yield* store.updateDecky(decky, now.ports)
      continue
    }
    const up = yield* Effect.either(runtime.up(decky, current.value.config))
    if (up._tag === "Left") {
      yield* Effect.logWarning(`decky ${decky.name}: ${up.left.message}`)
      yield* store.setState(decky.name, "failed", up.left.message)
      continue
    }
    yield* store.updateDecky(decky, up.right)
    started++
  }
  return { started, stopped }
}).pipe(Effect.withSpan("Fleet.syncRuntime"))

/**
 * The in-process runtime seen from another process (`decnet deploy | teardown`, `decnet api` alone): it
 * runs nothing, so only the record changes and the `decnet up` that runs the fleet applies it.
 */
export const recordOnlyRuntime: DeckyRuntimeService = {
  kind: "inprocess",
  prepare: () => Effect.void,
  up: () => Effect.succeed([]),
  down: () => Effect.void,
  release: () => Effect.void,
  status: Effect.succeed([])
}

/** The loopback LAN of the in-process runtime: every decky its own 127.77.0.x. */
export const LOOPBACK_LAN: HostLan = {
  interface: "lo",
  subnet: "127.77.0.0/24",
  gateway: "127.77.0.1",
  hostIp: "127.77.0.1"
}

/** The host's LAN as `ip` reports it: the default route's interface and gateway, and the interface's address. */
export interface HostLan {
  readonly interface: string
  readonly gateway: string
  readonly subnet: string
  readonly hostIp: string
}

export const discoverLan = (iface: Option.Option<string>): Effect.Effect<HostLan, FleetError, HostNetwork> =>
  Effect.gen(function* () {
    const host = yield* HostNetwork
    const fail = (why: string) =>
      new FleetError({ message: `cannot discover the LAN (${why}); give --interface and --subnet` })
    const route = yield* host
      .ip(["-4", "route", "show", "default"])
      .pipe(Effect.mapError((e) => fail(e.stderr.trim())))
    const via = /default via (\S+) dev (\S+)/.exec(route)
    const name = Option.getOrElse(iface, () => via?.[2] ?? "")
    if (name === "") return yield* fail("no default route")
    const addr = yield* host
      .ip(["-4", "-o", "addr", "show", "dev", name])
      .pipe(Effect.mapError((e) => fail(e.stderr.trim())))
    const inet = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(addr)
    if (inet === null) return yield* fail(`${name} has no IPv4 address`)
    const subnet = Option.getOrUndefined(parseSubnet(`${inet[1]}/${inet[2]}`))
    if (subnet === undefined) return yield* fail(`cannot read ${inet[1]}/${inet[2]}`)
    const gateway = via !== null && via[2] === name ? (via[1] ?? "") : formatIpv4(subnet.network + 1)
    return {
      interface: name,
      gateway,
      subnet: `${formatIpv4(subnet.network)}/${subnet.prefix}`,
      hostIp: inet[1] ?? ""
    }
  })
