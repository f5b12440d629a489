/**
 * The body of `decnet up`, loaded only when it runs: the embedded default in one process.
 *
 * - the bus: the broker on its UNIX socket, hosted here (or joined, when a `decnet bus` already answers
 *   there), so `decnet logs --follow` and `decnet bus sub` in another terminal see this fleet's events;
 *   with DECNET_BUS_TYPE=nats the configured server, and the null bus when none can be made;
 * - SQLite under ~/.decnet (or DECNET_DB_PATH / DECNET_DB_URL), migrated;
 * - the in-process fleet: the stored deployment resumed, or three deckies of three archetypes planned on
 *   127.77.0.0/24; the services' events go straight into the collector, which writes the evidence files;
 * - the ingester (evidence file → rows, credentials, bounties → `system.log`), the mutator's watch loop
 *   (which also applies live MazeNET edits), the fleet reconciler, and a sync loop that applies what
 *   `decnet deploy | teardown | mutate` changed from another process;
 * - MazeNET topologies on the in-process topology runtime: every live one of the database resumed, and with
 *   `--topology depth=2,branching=2` one generated and kept (UpTopology.ts), its LANs on loopback blocks.
 *
 * Ctrl-C interrupts it: the deckies stop, the evidence writer flushes, the bus says goodbye, and the
 * next `up` resumes the same fleet and database (the ingester picks up from its stored position).
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { dirname, join } from "node:path"
import { Console, Data, Effect, Either, Layer, Option, Ref, Schedule } from "effect"
import { type EmbeddedApi, type EmbeddedApiFailure, serveEmbeddedApi } from "../api/Embedded.js"
import { HealthProbes, superviseTask, type TaskState } from "../api/Health.js"
import { serveBroker } from "../bus/Broker.js"
import { resolveSocketPath } from "../bus/SocketPath.js"
import { CollectorLive } from "../collector/Collector.js"
import { InProcessSinkLive } from "../collector/InProcessSink.js"
import { evidencePaths } from "../collector/Record.js"
import { EvidenceWriterLive } from "../collector/Writer.js"
import { DecnetConfig, type DecnetSettings } from "../config/DecnetConfig.js"
import { DbLive, sqlitePathConfig } from "../db/Client.js"
import { FleetRepo } from "../db/FleetRepo.js"
import { MigrationsLive } from "../db/Migrations.js"
import { StateRepo } from "../db/StateRepo.js"
import { recordDeployment, syncRuntime } from "../fleet/Fleet.js"
import { loadIniFromString } from "../fleet/Ini.js"
import { InProcessRuntime, PORT_OFFSET } from "../fleet/InProcess.js"
import type { BoundPort, Decky, DeploymentState } from "../fleet/Model.js"
import { makeDeployment, planFromIni } from "../fleet/Plan.js"
import { runReconcileLoop } from "../fleet/Reconciler.js"
import { FleetStore } from "../fleet/Store.js"
import { optionalBus } from "../fleet/WorkerLayers.js"
import { isHoneypotSlug } from "../honeypots/Registry.js"
import { ingesterOptions, runIngester } from "../ingester/Ingester.js"
import { IngestStore } from "../ingester/Store.js"
import { runWatchLoop } from "../mutator/Watch.js"
import { InProcessTopologyLive } from "../topology/InProcessTopology.js"
import type { TopologyConfig } from "../topology/Model.js"
import { OperationOwnerName } from "../topology/Owner.js"
import { TopologyRepo } from "../topology/TopologyRepo.js"
import { evidenceBase, LOOPBACK_LAN } from "./FleetRun.js"
import { plainTable } from "./Table.js"
import { markTopologiesStopped, startTopologies, type TopologyView, topologyLines } from "./UpTopology.js"

export class UpError extends Data.TaggedError("UpError")<{ readonly message: string }> {}

export interface UpOptions {
  /** Start the fleet, print where it listens, and exit. */
  readonly once: boolean
  /** Print the ready line as JSON. */
  readonly json: boolean
  /** `--topology depth=2,branching=2,…`, parsed: a generated topology kept running next to the fleet. */
  readonly topology: Option.Option<TopologyConfig>
}

/** The first fleet of a fresh `up`: three archetypes, so a scan sees a small, varied LAN. */
export const DEFAULT_FLEET_INI = `[decky-01]
archetype=linux-server

[decky-02]
archetype=database-server

[decky-03]
archetype=mail-server
`

/** Seconds between the sync passes that apply another process's `deploy` / `teardown` / `mutate`. */
const SYNC_SECONDS = 3
/** Seconds between the reconciler's passes (its state rows and `decky.<name>.state`). */
const RECONCILE_SECONDS = 10
/** The group-owned socket of a system broker is not ours to chown: the embedded one keeps the user's group. */
const BROKER_HEARTBEAT_SECONDS = 30

// ---------------------------------------------------------------------------------------------------------
// One `up` per home: a second one would fight the first for its ports and its ingester position.

const lockPath = (settings: DecnetSettings) => join(settings.system.home, ".decnet", "up.pid")

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return e instanceof Error && "code" in e && e.code === "EPERM"
  }
}

const holdLock = (path: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const held = yield* Effect.try({
        try: () => (existsSync(path) ? Number.parseInt(readFileSync(path, "utf8").trim(), 10) : Number.NaN),
        catch: () => Number.NaN
      }).pipe(Effect.orElseSucceed(() => Number.NaN))
      if (Number.isInteger(held) && held !== process.pid && alive(held))
        return yield* new UpError({
          message: `another \`decnet up\` (pid ${held}) is running on this home; stop it first (its lock: ${path})`
        })
      yield* Effect.try({
        try: () => {
          mkdirSync(dirname(path), { recursive: true })
          writeFileSync(path, `${process.pid}\n`)
        },
        catch: (e) => new UpError({ message: `cannot write ${path}: ${String(e)}` })
      })
    }),
    () =>
      Effect.sync(() => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path)
        } catch {
          // already gone
        }
      })
  )

// ---------------------------------------------------------------------------------------------------------
// The bus: host the broker unless one already answers on its socket.

/** True when something accepts a connection on the UNIX socket within a second. */
const answers = (socketPath: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = connect(socketPath)
    const done = (ok: boolean) => {
      socket.destroy()
      resume(Effect.succeed(ok))
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

/** Where the bus is, in words; hosts the broker in this scope when this process is to serve it. */
const hostBus = Effect.gen(function* () {
  const { bus } = yield* DecnetConfig
  if (!bus.enabled) return "disabled (DECNET_BUS_ENABLED=false)"
  if (bus.type === "fake") return "in-process only (DECNET_BUS_TYPE=fake): other processes do not see it"
  if (bus.type === "nats") return "NATS (DECNET_BUS_URL)"
  const socketPath = yield* resolveSocketPath()
  if (yield* answers(socketPath)) return `${socketPath} (a running \`decnet bus\`)`
  yield* Effect.try({
    try: () => mkdirSync(dirname(socketPath), { recursive: true }),
    catch: (e) => new UpError({ message: `cannot create ${dirname(socketPath)}: ${String(e)}` })
  })
  yield* serveBroker({ socketPath, group: "", heartbeatSeconds: BROKER_HEARTBEAT_SECONDS }).pipe(
    Effect.mapError((e) => new UpError({ message: e.message }))
  )
  return `${socketPath} (broker in this process)`
})

// ---------------------------------------------------------------------------------------------------------
// What to run.

/** The three-archetype fleet on the loopback LAN, its evidence under `logBase`. */
export const defaultDeployment = (logBase: string) =>
  Effect.gen(function* () {
    const ini = yield* loadIniFromString(DEFAULT_FLEET_INI)
    const net = { subnet: LOOPBACK_LAN.subnet, gateway: LOOPBACK_LAN.gateway, hostIp: LOOPBACK_LAN.hostIp }
    const deckies = yield* planFromIni(ini, net, { runnable: isHoneypotSlug })
    return yield* makeDeployment({
      runtime: "inprocess",
      interface: LOOPBACK_LAN.interface,
      subnet: LOOPBACK_LAN.subnet,
      gateway: LOOPBACK_LAN.gateway,
      deckies,
      log_file: logBase,
      ipvlan: false,
      mutate_interval: 30
    })
  }).pipe(Effect.mapError((e) => new UpError({ message: `the default fleet: ${e.message}` })))

/** The stored in-process deployment, or the default one recorded now; a Docker fleet is not ours to run. */
const ensureDeployment = (logBase: string) =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const current = yield* store.load()
    if (Option.isSome(current) && current.value.config.runtime === "docker")
      return yield* new UpError({
        message:
          `a Docker deployment of ${current.value.config.deckies.length} deckies is active: its workers run as ` +
          "services (decnet collect | ingest | mutate | reconcile, services/systemd/). " +
          "Run `decnet teardown --all` first to use the embedded default."
      })
    if (Option.isSome(current)) return false
    yield* recordDeployment(yield* defaultDeployment(logBase))
    return true
  })

// ---------------------------------------------------------------------------------------------------------
// What to print.

export interface Endpoint {
  readonly service: string
  readonly port: number
  readonly proto: "tcp" | "udp"
  readonly address: string
}

const endpointsOf = (ports: ReadonlyArray<BoundPort>): ReadonlyArray<Endpoint> =>
  ports.map((p) => ({ service: p.service, port: p.port, proto: p.proto, address: `${p.host}:${p.port}` }))

interface Where {
  readonly db: string
  readonly bus: string
  readonly log: string
  readonly fresh: boolean
  readonly privileged: boolean
  /** The embedded API: where it listens, or why it does not (none with --once). */
  readonly api: Option.Option<Either.Either<EmbeddedApi, EmbeddedApiFailure>>
  /** The MazeNET topologies running here. */
  readonly topologies: ReadonlyArray<TopologyView>
}

const apiJson = (api: Either.Either<EmbeddedApi, EmbeddedApiFailure>) =>
  Either.match(api, {
    onRight: (a) => ({
      url: a.url,
      admin: a.admin,
      ...Option.match(a.password, { onNone: () => ({}), onSome: (password) => ({ password }) })
    }),
    onLeft: (f) => ({
      error: f.reason,
      admin: f.admin,
      ...Option.match(f.password, { onNone: () => ({}), onSome: (password) => ({ password }) })
    })
  })

const apiLines = (api: Either.Either<EmbeddedApi, EmbeddedApiFailure>): ReadonlyArray<string> => {
  const password = Option.match(Either.isRight(api) ? api.right.password : api.left.password, {
    onNone: () => [],
    onSome: (p) => [
      `            first start: user ${Either.isRight(api) ? api.right.admin : api.left.admin}, password ${p} (shown once; change it at the first login)`
    ]
  })
  return Either.match(api, {
    onRight: (a) => [
      `  dashboard ${a.url}/ (log in as ${a.admin})`,
      `  api       ${a.url}/api/v1 (docs ${a.url}/docs), admin user ${a.admin}`,
      ...password
    ],
    onLeft: (f) => [`  api       not serving: ${f.reason}`, ...password]
  })
}

const readyJson = (state: DeploymentState, where: Where) =>
  JSON.stringify({
    ready: true,
    db: where.db,
    bus: where.bus,
    log: where.log,
    runtime: state.config.runtime,
    resumed: !where.fresh,
    ...Option.match(where.api, { onNone: () => ({}), onSome: (api) => ({ api: apiJson(api) }) }),
    deckies: state.config.deckies.map((d: Decky) => ({
      name: d.name,
      ip: d.ip,
      hostname: d.hostname,
      archetype: d.archetype,
      services: endpointsOf(state.ports[d.name] ?? [])
    })),
    ...(where.topologies.length === 0 ? {} : { topologies: where.topologies })
  })

/** A first touch to suggest: ssh when a decky has it, else any TCP service. */
const example = (state: DeploymentState): string => {
  const all = state.config.deckies.flatMap((d) => state.ports[d.name] ?? [])
  const ssh = all.find((p) => p.service === "ssh")
  if (ssh !== undefined) return `ssh ${ssh.port === 22 ? "" : `-p ${ssh.port} `}root@${ssh.host}`
  const tcp = all.find((p) => p.proto === "tcp")
  return tcp === undefined ? "decnet status" : `nc ${tcp.host} ${tcp.port}`
}

const readyText = (state: DeploymentState, where: Where, mode: string) => {
  const rows = state.config.deckies.flatMap((d) => {
    const eps = endpointsOf(state.ports[d.name] ?? [])
    if (eps.length === 0) return [[d.name, d.ip, d.archetype ?? "-", d.services.join(","), "(not running)"]]
    return eps.map((e, i) => [
      i === 0 ? d.name : "",
      i === 0 ? d.ip : "",
      i === 0 ? (d.archetype ?? "-") : "",
      e.service,
      e.proto === "udp" ? `${e.address}/udp` : e.address
    ])
  })
  const offset = where.privileged
    ? ""
    : `\nNot root: well-known ports are offset by ${PORT_OFFSET} (22 -> ${22 + PORT_OFFSET}); a port another program holds moves on to the next free offset.`
  return [
    `DECNET embedded default (mode ${mode}, ${where.fresh ? "new fleet" : "resumed fleet"})`,
    `  database  ${where.db}`,
    `  bus       ${where.bus}`,
    `  evidence  ${where.log} (+ ${evidencePaths(where.log).json})`,
    ...Option.match(where.api, { onNone: () => [], onSome: apiLines }),
    "",
    plainTable(["DECKY", "IP", "ARCHETYPE", "SERVICE", "ADDRESS"], rows),
    ...topologyLines(where.topologies),
    offset,
    `Touch a decky (e.g. \`${example(state)}\`), then see the events:`,
    "  decnet logs --follow          (--json, --decky NAME, --service ssh, --event auth_attempt)",
    "  decnet status                 the fleet; decnet deploy --runtime inprocess changes it while this runs",
    "Ctrl-C stops; the next `decnet up` resumes this fleet and database."
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------

const dbDescription = Effect.gen(function* () {
  const { db } = yield* DecnetConfig
  if (db.type === "mysql") return "MySQL/MariaDB (DECNET_DB_URL / DECNET_DB_*)"
  return yield* sqlitePathConfig
})

export const runUp = (o: UpOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const settings = yield* DecnetConfig
      yield* holdLock(lockPath(settings))
      const bus = yield* hostBus
      const logBase = evidenceBase(settings, "inprocess", null)
      const privileged = process.getuid?.() === 0
      const db = yield* dbDescription

      const data = Layer.mergeAll(FleetStore.Default, IngestStore.Default, TopologyRepo.Default).pipe(
        Layer.provideMerge(Layer.mergeAll(StateRepo.Default, FleetRepo.Default, MigrationsLive)),
        Layer.provideMerge(DbLive)
      )
      const fleet = Layer.merge(InProcessRuntime({ privileged }), InProcessTopologyLive({ privileged })).pipe(
        Layer.provideMerge(InProcessSinkLive),
        Layer.provideMerge(CollectorLive),
        Layer.provideMerge(EvidenceWriterLive(logBase)),
        Layer.provideMerge(Layer.merge(data, optionalBus("decnet-up")))
      )

      // The topologies this up runs, for the stop bookkeeping.
      const running = yield* Ref.make<ReadonlyArray<TopologyView>>([])
      const program = Effect.gen(function* () {
        const fresh = yield* ensureDeployment(logBase)
        const sync = yield* syncRuntime
        const store = yield* FleetStore
        const state = yield* store.load()
        if (Option.isNone(state))
          return yield* new UpError({ message: "the deployment vanished while starting" })
        const probes = Layer.succeed(HealthProbes, {
          tasks: yield* Ref.make<ReadonlyMap<string, TaskState>>(new Map([["collector", "running"]])),
          docker: Option.none()
        })
        const api = o.once
          ? Option.none()
          : Option.some(yield* Effect.either(Effect.provide(serveEmbeddedApi, probes)))
        const topologies = yield* startTopologies(o.topology).pipe(
          Effect.mapError((e) => new UpError({ message: `--topology: ${e.message}` }))
        )
        yield* Ref.set(running, topologies)
        const where: Where = { db, bus, log: logBase, fresh, privileged, api, topologies }
        yield* Console.log(
          o.json ? readyJson(state.value, where) : readyText(state.value, where, settings.mode)
        )
        if (sync.started === 0 && state.value.config.deckies.length > 0)
          yield* Effect.logWarning(
            "no decky could start: see the warnings above (`decnet status` shows the errors)"
          )
        if (o.once) return
        yield* superviseTask("ingester", Effect.flatMap(ingesterOptions(logBase), runIngester)).pipe(
          Effect.provide(probes)
        )
        yield* Effect.forkScoped(runWatchLoop())
        yield* Effect.forkScoped(runReconcileLoop({ intervalSeconds: RECONCILE_SECONDS }))
        yield* Effect.forkScoped(
          syncRuntime.pipe(
            Effect.tap(({ started, stopped }) =>
              started + stopped > 0
                ? Effect.logInfo(`fleet changed: ${started} deckies started, ${stopped} stopped`)
                : Effect.void
            ),
            Effect.repeat(Schedule.spaced(`${SYNC_SECONDS} seconds`))
          )
        )
        return yield* Effect.never
      })
      // When up stops, what it served is no longer running: `decnet status` says so until the next up.
      const markStopped = Effect.gen(function* () {
        const store = yield* FleetStore
        const state = yield* store.load()
        if (Option.isNone(state)) return
        for (const d of state.value.config.deckies)
          yield* store.setState(d.name, "pending", "decnet up is not running")
        yield* markTopologiesStopped(yield* Ref.get(running))
      }).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("could not record the fleet as stopped", cause))
      )
      return yield* Effect.scoped(program).pipe(
        // The workers (forked in program's scope) stop first, then the states are written, then the layer goes.
        Effect.ensuring(markStopped),
        // Deploys and teardowns started here (at start, through the API) are recorded as decnet up's.
        Effect.provideService(OperationOwnerName, "decnet up"),
        Effect.provide(fleet),
        Effect.catchTags({
          DbConfigError: (e) => new UpError({ message: e.message }),
          DbConnectionError: (e) => new UpError({ message: e.message }),
          EvidenceWriteError: (e) => new UpError({ message: e.message })
        })
      )
    })
  )
