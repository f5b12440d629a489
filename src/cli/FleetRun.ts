// The bodies of `decnet deploy | teardown | status | redeploy`, loaded only when one of them runs.
import { Command as PlatformCommand } from "@effect/platform"
import { Console, Data, Effect, Layer, Option, Schema } from "effect"
import { EvidenceWriterLive } from "../collector/Writer.js"
import { DecnetConfig, type DecnetSettings } from "../config/DecnetConfig.js"
import { FleetRepo } from "../db/FleetRepo.js"
import {
  deploy,
  discoverLan,
  LOOPBACK_LAN,
  recordDeployment,
  recordOnlyRuntime,
  teardown
} from "../fleet/Fleet.js"
import { HostNetworkLive } from "../fleet/HostNetwork.js"
import { loadIniFile } from "../fleet/Ini.js"
import { type Decky, type Deployment, DeploymentState } from "../fleet/Model.js"
import { allocateIps, makeDeployment, type PlanNetwork, planFromIni, planFromOptions } from "../fleet/Plan.js"
import { DeckyRuntime } from "../fleet/Runtime.js"
import { FleetStore } from "../fleet/Store.js"
import { DockerDeckyRuntimeLive, FleetStoreLive, optionalBus } from "../fleet/WorkerLayers.js"
import { isHoneypotSlug } from "../honeypots/Registry.js"
import { plainTable } from "./Table.js"

export class FleetCliError extends Data.TaggedError("FleetCliError")<{ readonly message: string }> {}

export { LOOPBACK_LAN }

const DEFAULT_INGEST_LOG = "/var/log/decnet/decnet.log"

/**
 * The evidence log base: the flag, else DECNET_INGEST_LOG_FILE; an in-process fleet (no root) keeps it
 * under ~/.decnet unless the variable moved it from the system default.
 */
export const evidenceBase = (
  settings: DecnetSettings,
  runtime: "docker" | "inprocess",
  flag: string | null
): string =>
  flag ??
  (runtime === "inprocess" && settings.logs.ingestLogFile === DEFAULT_INGEST_LOG
    ? `${settings.system.home.replace(/\/+$/, "")}/.decnet/decnet.log`
    : settings.logs.ingestLogFile)

const plainLayers = (logBase: string, client: string) =>
  Layer.mergeAll(FleetStoreLive, EvidenceWriterLive(logBase), optionalBus(client))

const deckyRow = (d: Decky) => [d.name, d.ip, d.services.join(","), d.distro, d.hostname, d.archetype ?? "-"]

const encodeState = Schema.encodeSync(DeploymentState)

export interface DeployOptions {
  readonly deckies: number | undefined
  readonly services: ReadonlyArray<string> | null
  readonly randomizeServices: boolean
  readonly archetype: string | null
  readonly distros: ReadonlyArray<string> | null
  readonly randomizeDistros: boolean
  readonly config: string | undefined
  readonly iface: Option.Option<string>
  readonly subnet: string | undefined
  readonly ipStart: string | null
  readonly ipvlan: boolean
  readonly mutateInterval: number
  readonly dryRun: boolean
  readonly runtime: "docker" | "inprocess"
  readonly logFile: string | null
  readonly json: boolean
}

const lanFor = (o: DeployOptions) =>
  Effect.gen(function* () {
    if (o.runtime === "inprocess") return LOOPBACK_LAN
    const found = yield* Effect.either(discoverLan(o.iface))
    if (o.subnet === undefined) {
      if (found._tag === "Left") return yield* new FleetCliError({ message: found.left.message })
      return found.right
    }
    const iface = Option.getOrElse(o.iface, () => (found._tag === "Right" ? found.right.interface : ""))
    if (iface === "")
      return yield* new FleetCliError({
        message: "give --interface with --subnet (no default route to take it from)"
      })
    const gateway = found._tag === "Right" && found.right.interface === iface ? found.right.gateway : ""
    const hostIp = found._tag === "Right" && found.right.interface === iface ? found.right.hostIp : ""
    return { interface: iface, subnet: o.subnet, gateway, hostIp }
  })

/** Plan the fleet from the flags or an INI. */
export const planDeployment = (o: DeployOptions, logBase: string) =>
  Effect.gen(function* () {
    const lan = yield* lanFor(o)
    const runnable = isHoneypotSlug
    let deckies: readonly [Decky, ...Array<Decky>]
    let net: PlanNetwork = {
      subnet: lan.subnet,
      gateway: lan.gateway === "" ? lan.subnet.replace(/\.\d+\/\d+$/, ".1") : lan.gateway,
      hostIp: lan.hostIp === "" ? null : lan.hostIp
    }
    let iface = lan.interface
    if (o.config !== undefined) {
      const ini = yield* loadIniFile(o.config)
      if (o.runtime === "docker") {
        net = { subnet: ini.subnet ?? net.subnet, gateway: ini.gateway ?? net.gateway, hostIp: net.hostIp }
        iface = ini.interface ?? iface
      }
      deckies = yield* planFromIni(ini, net, { mutateInterval: o.mutateInterval, runnable })
    } else {
      if (o.deckies === undefined)
        return yield* new FleetCliError({ message: "give --deckies N (or --config file.ini)" })
      if (o.deckies < 1)
        return yield* new FleetCliError({ message: `--deckies must be at least 1, got ${o.deckies}` })
      const ips = yield* allocateIps(net.subnet, net.gateway, net.hostIp, o.deckies, o.ipStart)
      deckies = yield* planFromOptions({
        ips,
        services: o.services,
        randomizeServices: o.randomizeServices,
        distros: o.distros,
        randomizeDistros: o.randomizeDistros,
        archetype: o.archetype,
        mutateInterval: o.mutateInterval,
        runnable
      })
    }
    return yield* makeDeployment({
      runtime: o.runtime,
      interface: iface,
      subnet: net.subnet,
      gateway: net.gateway,
      deckies,
      log_file: logBase,
      ipvlan: o.ipvlan,
      mutate_interval: o.mutateInterval
    })
  })

const printPlan = (deployment: Deployment, json: boolean, note: string) =>
  json
    ? Console.log(JSON.stringify(encodeState({ config: deployment, ports: {} }), null, 2))
    : Console.log(
        `${plainTable(["DECKY", "IP", "SERVICES", "DISTRO", "HOSTNAME", "ARCHETYPE"], deployment.deckies.map(deckyRow))}\n${note}`
      )

export const runDeploy = (o: DeployOptions) =>
  Effect.gen(function* () {
    const settings = yield* DecnetConfig
    const logBase = evidenceBase(settings, o.runtime, o.logFile)
    const deployment = yield* planDeployment(o, logBase).pipe(Effect.provide(HostNetworkLive))
    if (o.dryRun) return yield* printPlan(deployment, o.json, "Dry run: no deckies started, nothing stored.")
    if (o.runtime === "inprocess") {
      yield* recordDeployment(deployment).pipe(Effect.provide(plainLayers(logBase, "decnet-deploy")))
      return yield* printPlan(
        deployment,
        o.json,
        "Recorded for the in-process runtime: `decnet up` serves these deckies (a running one picks them up within seconds)."
      )
    }
    const state = yield* deploy(deployment).pipe(
      Effect.provide(Layer.merge(plainLayers(logBase, "decnet-deploy"), DockerDeckyRuntimeLive)),
      Effect.provide(HostNetworkLive)
    )
    if (o.json) return yield* Console.log(JSON.stringify(encodeState(state), null, 2))
    yield* Console.log(
      plainTable(
        ["DECKY", "IP", "SERVICES", "DISTRO", "HOSTNAME", "ARCHETYPE"],
        deployment.deckies.map(deckyRow)
      )
    )
    yield* Console.log(
      `\n${deployment.deckies.length} deckies up on ${deployment.interface} (${deployment.subnet}).`
    )
  }).pipe(Effect.catchTags({ IniError: fail, PlanError: fail, DeckyRuntimeError: fail }))

function fail(e: { readonly message: string }) {
  return Effect.fail(new FleetCliError({ message: e.message }))
}

/** Which runtime the stored deployment uses (docker when none: teardown then says there is nothing). */
const storedRuntime = Effect.gen(function* () {
  const store = yield* FleetStore
  return Option.map(yield* store.load(), (s) => s.config)
})

export const runTeardown = (o: {
  readonly all: boolean
  readonly id: string | undefined
  readonly json: boolean
}) =>
  Effect.gen(function* () {
    if (o.all === (o.id !== undefined))
      return yield* new FleetCliError({ message: "give exactly one of --all or --id NAME" })
    const settings = yield* DecnetConfig
    const config = yield* storedRuntime.pipe(Effect.provide(FleetStoreLive))
    if (Option.isNone(config)) return yield* new FleetCliError({ message: "No active deployment found" })
    const runtime = config.value.runtime
    const logBase = config.value.log_file ?? evidenceBase(settings, runtime, null)
    const target = o.id === undefined ? ({ _tag: "All" } as const) : ({ _tag: "One", name: o.id } as const)
    const runtimeLayer =
      runtime === "docker"
        ? DockerDeckyRuntimeLive.pipe(Layer.provide(HostNetworkLive))
        : Layer.succeed(DeckyRuntime, recordOnlyRuntime)
    const gone = yield* teardown(target, { apply: runtime === "docker" }).pipe(
      Effect.provide(Layer.merge(plainLayers(logBase, "decnet-teardown"), runtimeLayer)),
      Effect.catchTags({ FleetError: fail })
    )
    if (o.json) return yield* Console.log(JSON.stringify({ removed: gone }))
    yield* Console.log(
      `Removed ${gone.join(", ")}${runtime === "inprocess" ? " (a running `decnet up` stops them within seconds)" : ""}.`
    )
  })

export const runStatus = (o: { readonly json: boolean }) =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const repo = yield* FleetRepo
    const current = yield* store.load()
    if (Option.isNone(current)) return yield* Console.log(o.json ? "null" : "No active deployment.")
    const rows = yield* repo.list()
    const stateOf = (name: string) => rows.find((r) => r.name === name)
    const { config, ports } = current.value
    if (o.json)
      return yield* Console.log(
        JSON.stringify(
          {
            ...encodeState(current.value),
            states: Object.fromEntries(
              config.deckies.map((d) => [d.name, stateOf(d.name)?.state ?? "pending"])
            )
          },
          null,
          2
        )
      )
    const body = config.deckies.map((d) => {
      const row = stateOf(d.name)
      const state = row?.state ?? "pending"
      // The stored ports are where it listens while it runs (and where it will listen again).
      const listen =
        state === "running" || state === "degraded"
          ? (ports[d.name] ?? []).map((p) => `${p.service}:${p.port}`).join(",")
          : ""
      return [d.name, d.ip, state, d.services.join(","), listen === "" ? "-" : listen, d.hostname]
    })
    yield* Console.log(plainTable(["DECKY", "IP", "STATE", "SERVICES", "LISTENING", "HOSTNAME"], body))
    yield* Console.log(
      `\nruntime ${config.runtime}, ${config.deckies.length} ${config.deckies.length === 1 ? "decky" : "deckies"} on ${config.interface} (${config.subnet})`
    )
    const errors = rows.filter((r) => r.last_error !== null)
    for (const r of errors) yield* Console.log(`${r.name}: ${r.last_error}`)
  }).pipe(Effect.provide(FleetStoreLive))

/** The fleet's worker units (services/systemd/). */
export const FLEET_WORKERS = ["collector", "ingester", "mutator", "reconciler"] as const

const systemctl = (...args: ReadonlyArray<string>) =>
  PlatformCommand.make("systemctl", ...args).pipe(
    PlatformCommand.string,
    Effect.map((s) => s.trim()),
    Effect.orElseSucceed(() => "")
  )

export const runRedeploy = (o: { readonly json: boolean }) =>
  Effect.gen(function* () {
    const units = yield* systemctl("list-unit-files", "decnet-*.service", "--no-legend")
    if (units === "")
      return yield* new FleetCliError({
        message:
          "no decnet units found under systemd (is systemd running, and are services/systemd/*.service installed?); " +
          "`decnet up` runs every worker in one process instead"
      })
    const rows: Array<{ worker: string; state: string; action: string }> = []
    for (const worker of FLEET_WORKERS) {
      const unit = `decnet-${worker}.service`
      if (!units.includes(unit)) {
        rows.push({ worker, state: "not installed", action: "-" })
        continue
      }
      const state = yield* systemctl("is-active", unit)
      if (state === "active") rows.push({ worker, state: "UP", action: "-" })
      else {
        yield* systemctl("start", unit)
        const after = yield* systemctl("is-active", unit)
        rows.push({
          worker,
          state: "DOWN",
          action: after === "active" ? "relaunched" : `failed to start (${after})`
        })
      }
    }
    if (o.json) return yield* Console.log(JSON.stringify(rows))
    yield* Console.log(
      plainTable(
        ["WORKER", "STATE", "ACTION"],
        rows.map((r) => [r.worker, r.state, r.action])
      )
    )
  })
