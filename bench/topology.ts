/**
 * MazeNET's own figures (issue 15): `npm run bench:topology`.
 *
 *   (a) live-mutation latency: from `enqueueMutation` (the API's row, then its `…mutation.enqueued` hint) to
 *       `topology.<id>.mutation.applied` heard on the bus, through the mutator's real watch loop, in the
 *       shape `decnet up` runs it: the unix broker in this process, one bus client publishing and listening
 *       (the API's), one for the watch loop. The topology's runtime is a no-op, so the ops are database-only:
 *       update_lan (coordinates), then add_lan and remove_lan of the same LAN in turn. p50/p99 over
 *       BENCH_TOPO_OPS ops (default 1,000) per op and backend, against the target p99 ≤ 20 ms and the
 *       original's 10 s poll (no wake-up: 5 s on average, 10 s at worst).
 *   (b) generate, validate and persist a depth-4, branching-4 topology (BENCH_TOPO_PERSIST_ROUNDS, default 3).
 *   (c) the in-process runtime: deploy a depth-2, branching-2 topology on loopback (seconds per decky).
 *
 * SQLite is a file in a temp dir; MariaDB runs when DECNET_BENCH_MYSQL_URL (or DECNET_TEST_MYSQL_URL) names
 * a server, in a database made and dropped here. With DECNET_BENCH_DOCKER=1, bench/topologyDocker.ts's
 * Docker deploy figure is measured too (root, dockerd, the decky image). Figures and ratios are printed;
 * nothing is asserted.
 */
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import type { SqlClient } from "@effect/sql"
import {
  Deferred,
  Effect,
  Either,
  Layer,
  Logger,
  LogLevel,
  ManagedRuntime,
  Redacted,
  Ref,
  Schema,
  type Scope,
  Stream
} from "effect"
import { createConnection } from "mysql2/promise"
import { Bus } from "../src/bus/Bus.js"
import { serveBroker } from "../src/bus/Broker.js"
import { makeUnixBus } from "../src/bus/UnixBus.js"
import { makeEvidenceWriter, EvidenceWriter } from "../src/collector/Writer.js"
import { DecnetConfig } from "../src/config/DecnetConfig.js"
import { type Dialect, FleetRepo, MigrationsLive, MysqlLive, SqliteLive, StateRepo } from "../src/db/index.js"
import { DeckyRuntime, type DeckyRuntimeService } from "../src/fleet/Runtime.js"
import { FleetStore } from "../src/fleet/Store.js"
import { EventSinkMemory } from "../src/honeypots/runtime/index.js"
import { runWatchLoop } from "../src/mutator/Watch.js"
import { generate, toDetail } from "../src/topology/Generator.js"
import { InProcessTopologyLive } from "../src/topology/InProcessTopology.js"
import { TopologyConfig } from "../src/topology/Model.js"
import { persistTopology } from "../src/topology/Persist.js"
import { TopologyRuntime, type TopologyRuntimeService } from "../src/topology/Runtime.js"
import { TopologyRepo } from "../src/topology/TopologyRepo.js"
import { errors, validate } from "../src/topology/Validator.js"
import { makeSqlRecorder } from "../test/support/SqlStatements.js"

const TARGET_P99_MS = 20
const POLL_SECONDS = 10

const envInt = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback)
  return Number.isInteger(v) && v > 0 ? v : fallback
}
const OPS = envInt("BENCH_TOPO_OPS", 1000)
const WARMUP = 50
const PERSIST_ROUNDS = envInt("BENCH_TOPO_PERSIST_ROUNDS", 3)

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
const ms = (n: number) => `${n.toFixed(2)} ms`

/** The topology runtime of (a): every live call succeeds at once (the ops stay database-only). */
const noopRuntime: TopologyRuntimeService = {
  kind: "in-process",
  deploy: () => Effect.void,
  inspect: () => Effect.succeed([]),
  teardown: () => Effect.void,
  addLan: () => Effect.void,
  removeLan: () => Effect.void,
  addDecky: () => Effect.void,
  removeDecky: () => Effect.void,
  attach: () => Effect.void,
  detach: () => Effect.void,
  updateServices: () => Effect.void,
  recreate: () => Effect.void,
  reapOrphans: () =>
    Effect.succeed({
      live_prefixes: [],
      orphan_prefixes: [],
      containers_removed: [],
      networks_removed: [],
      errors: []
    })
}

/** No flat fleet in (a): the watch loop's flat pass finds no deployment and idles. */
const noDeckies: DeckyRuntimeService = {
  kind: "inprocess",
  prepare: () => Effect.void,
  up: () => Effect.succeed([]),
  down: () => Effect.void,
  release: () => Effect.void,
  status: Effect.succeed([])
}

type Db = TopologyRepo | FleetStore | SqlClient.SqlClient

const dbLayer = (backend: Layer.Layer<SqlClient.SqlClient | Dialect, unknown>) =>
  Layer.mergeAll(TopologyRepo.Default, FleetStore.Default).pipe(
    Layer.provideMerge(Layer.mergeAll(StateRepo.Default, FleetRepo.Default, MigrationsLive)),
    Layer.provideMerge(backend),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )

const configOf = (name: string, depth: number, branching: number, seed: number) =>
  Schema.decodeUnknown(TopologyConfig)({ name, depth, branching_factor: branching, seed }).pipe(Effect.orDie)

const generated = (name: string, depth: number, branching: number, seed: number) =>
  Effect.gen(function* () {
    const config = yield* configOf(name, depth, branching, seed)
    const repo = yield* TopologyRepo
    return yield* Either.match(generate({ ...config, seed }, yield* repo.reservedSubnets()), {
      onLeft: (e) => Effect.die(e),
      onRight: Effect.succeed
    })
  })

// ---- (a) ------------------------------------------------------------------------------------------------

interface Latency {
  readonly op: string
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly mean: number
  /** SQL statements (each a round trip) per op, from the enqueue to the applied event, all processes' sides. */
  readonly statements: number
  /** Transactions per op (each two more round trips: BEGIN and COMMIT). */
  readonly transactions: number
}

/** Every statement and transaction the series sends (test/support/SqlStatements.ts). */
const sql = makeSqlRecorder()

const mutationLatency = (dir: string) =>
  Effect.gen(function* () {
    const socketPath = join(dir, `bus-${randomUUID().slice(0, 8)}.sock`)
    yield* serveBroker({ socketPath, group: "", heartbeatSeconds: 0 })
    const api = yield* makeUnixBus({ socketPath, name: "bench-api" })
    const mutator = yield* makeUnixBus({ socketPath, name: "bench-mutator" })
    const repo = yield* TopologyRepo
    const plan = yield* generated(`bench-latency-${randomUUID().slice(0, 8)}`, 1, 1, 1)
    const topology = yield* persistTopology(plan).pipe(Effect.orDie)
    yield* repo.updateStatus(topology.id, "active")
    const writer = yield* makeEvidenceWriter(join(dir, "evidence")).pipe(Effect.orDie)

    // Applied events, by mutation id, resolved as they arrive.
    const waiting = yield* Ref.make(new Map<string, Deferred.Deferred<void>>())
    const applied = yield* api.subscribe(`topology.${topology.id}.mutation.>`)
    yield* applied.pipe(
      Stream.runForEach((e) =>
        Effect.gen(function* () {
          if (e.type === "failed")
            return yield* Effect.dieMessage(`mutation failed: ${JSON.stringify(e.payload)}`)
          if (e.type !== "applied") return
          const id = e.payload.mutation_id
          const d = typeof id === "string" ? (yield* Ref.get(waiting)).get(id) : undefined
          if (d !== undefined) yield* Deferred.succeed(d, undefined)
        })
      ),
      Effect.forkScoped
    )
    yield* runWatchLoop({ pollSeconds: POLL_SECONDS }).pipe(
      Effect.provideService(Bus, mutator),
      Effect.provideService(TopologyRuntime, noopRuntime),
      Effect.provideService(DeckyRuntime, noDeckies),
      Effect.provideService(EvidenceWriter, writer),
      Effect.forkScoped
    )
    // Let the loop subscribe before the first hint (a missed one would only wait for the poll).
    yield* Effect.sleep("300 millis")

    const one = (op: string, payload: Readonly<Record<string, unknown>>) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<void>()
        const t0 = performance.now()
        const id = yield* repo.enqueueMutation(topology.id, op, payload)
        yield* Ref.update(waiting, (m) => new Map(m).set(id, done))
        yield* api.publish(
          `topology.${topology.id}.mutation.enqueued`,
          { mutation_id: id, op, payload },
          "enqueued"
        )
        yield* Deferred.await(done).pipe(
          Effect.timeoutFail({
            duration: "30 seconds",
            onTimeout: () => new Error(`${op} ${id} never applied`)
          }),
          Effect.orDie
        )
        yield* Ref.update(waiting, (m) => {
          const next = new Map(m)
          next.delete(id)
          return next
        })
        return performance.now() - t0
      })

    /** `count` measured ops (after the warm-up), each the `i`-th of the script; figures per op name. */
    const series = (
      count: number,
      script: (i: number) => readonly [string, Readonly<Record<string, unknown>>]
    ) =>
      Effect.gen(function* () {
        const samples = new Map<string, Array<number>>()
        const counts = new Map<string, { statements: number; transactions: number }>()
        for (let i = 0; i < WARMUP + count; i++) {
          const [op, payload] = script(i)
          const before = { statements: sql.statements.length, transactions: sql.transactions() }
          const t = yield* one(op, payload)
          if (i < WARMUP) continue
          samples.set(op, [...(samples.get(op) ?? []), t])
          const c = counts.get(op) ?? { statements: 0, transactions: 0 }
          counts.set(op, {
            statements: c.statements + sql.statements.length - before.statements,
            transactions: c.transactions + sql.transactions() - before.transactions
          })
        }
        return [...samples].map(([op, xs]): Latency => {
          const sorted = [...xs].sort((a, b) => a - b)
          const c = counts.get(op) ?? { statements: Number.NaN, transactions: Number.NaN }
          return {
            op,
            p50: quantile(sorted, 0.5),
            p99: quantile(sorted, 0.99),
            max: sorted[sorted.length - 1] ?? Number.NaN,
            mean: xs.reduce((x, y) => x + y, 0) / xs.length,
            statements: c.statements / xs.length,
            transactions: c.transactions / xs.length
          }
        })
      })

    const coords = yield* series(OPS, (i) => ["update_lan", { name: "LAN-00", x: i, y: -i }])
    // add_lan and remove_lan of the same LAN in turn: the topology keeps its size (a growing one would
    // measure its size instead).
    const lans = yield* series(2 * OPS, (i) =>
      i % 2 === 0
        ? ["add_lan", { name: `LAN-bench-${i >> 1}` }]
        : ["remove_lan", { name: `LAN-bench-${i >> 1}` }]
    )
    yield* repo.deleteTopologyCascade(topology.id)
    return [...coords, ...lans]
  })

// ---- (b) ------------------------------------------------------------------------------------------------

interface PersistRound {
  readonly lans: number
  readonly deckies: number
  readonly edges: number
  readonly generateMs: number
  readonly validateMs: number
  readonly persistMs: number
}

const generateValidatePersist = (seed: number) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const config = yield* configOf(`bench-d4b4-${seed}-${randomUUID().slice(0, 8)}`, 4, 4, seed)
    const reserved = yield* repo.reservedSubnets()
    const t0 = performance.now()
    const plan = yield* Either.match(generate({ ...config, seed }, reserved), {
      onLeft: (e) => Effect.die(e),
      onRight: Effect.succeed
    })
    const t1 = performance.now()
    const issues = errors(validate(toDetail(plan)))
    if (issues.length > 0)
      return yield* Effect.dieMessage(`invalid plan: ${issues.map((i) => i.code).join(", ")}`)
    const t2 = performance.now()
    const topology = yield* persistTopology(plan).pipe(Effect.orDie)
    const t3 = performance.now()
    yield* repo.deleteTopologyCascade(topology.id)
    return {
      lans: plan.lans.length,
      deckies: plan.deckies.length,
      edges: plan.edges.length,
      generateMs: t1 - t0,
      validateMs: t2 - t1,
      persistMs: t3 - t2
    } satisfies PersistRound
  })

// ---- (c) ------------------------------------------------------------------------------------------------

const inProcessDeploy = (dir: string) =>
  Effect.gen(function* () {
    const rounds: Array<{ deckies: number; deploy: number; teardown: number }> = []
    for (let seed = 1; seed <= 3; seed++) {
      const config = yield* configOf(`bench-inproc-${seed}`, 2, 2, seed)
      const plan = yield* Either.match(generate({ ...config, seed: seed + 100 }), {
        onLeft: (e) => Effect.die(e),
        onRight: Effect.succeed
      })
      const detail = toDetail(plan, { topologyId: randomUUID() })
      const runtime = yield* TopologyRuntime
      const t0 = performance.now()
      yield* runtime.deploy(detail).pipe(Effect.orDie)
      const t1 = performance.now()
      yield* runtime.teardown(detail).pipe(Effect.orDie)
      rounds.push({ deckies: detail.deckies.length, deploy: t1 - t0, teardown: performance.now() - t1 })
    }
    return rounds
  }).pipe(
    Effect.provide(
      InProcessTopologyLive({ privileged: false }).pipe(
        Layer.provide(
          Layer.merge(
            EventSinkMemory,
            DecnetConfig.fromMap({ DECNET_ARTIFACTS_ROOT: join(dir, "artifacts") })
          )
        )
      )
    ),
    Effect.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

// ---- main -----------------------------------------------------------------------------------------------

const onBackend = async (
  name: string,
  backend: Layer.Layer<SqlClient.SqlClient | Dialect, unknown>,
  dir: string
): Promise<{ latency: ReadonlyArray<Latency>; persist: ReadonlyArray<PersistRound> }> => {
  const rt = ManagedRuntime.make(dbLayer(backend))
  try {
    const run = <A, E>(e: Effect.Effect<A, E, Db | Scope.Scope>) =>
      rt.runPromise(Effect.scoped(e).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))))
    const latency = await run(Effect.withTracer(mutationLatency(dir), sql.tracer))
    for (const l of latency)
      console.log(
        `[${name}] ${l.op}: enqueue → applied p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)}, mean ${ms(l.mean)} ` +
          `(${OPS} ops; target p99 ≤ ${TARGET_P99_MS} ms: ${l.p99 <= TARGET_P99_MS ? "met" : "missed"}, ` +
          `p99 at ${(l.p99 / TARGET_P99_MS).toFixed(2)}× the target; the 10 s poll alone: ${((POLL_SECONDS * 500) / l.p50).toFixed(0)}× our p50 on average, ` +
          `${((POLL_SECONDS * 1000) / l.p99).toFixed(0)}× our p99 at worst); ` +
          `${l.statements.toFixed(1)} SQL statements and ${l.transactions.toFixed(1)} transactions per op ` +
          `(${(l.statements + 2 * l.transactions).toFixed(1)} round trips with BEGIN/COMMIT)`
      )
    const persist: Array<PersistRound> = []
    for (let seed = 1; seed <= PERSIST_ROUNDS; seed++) {
      const r = await run(generateValidatePersist(seed))
      persist.push(r)
      console.log(
        `[${name}] depth 4, branching 4, seed ${seed}: ${r.lans} LANs, ${r.deckies} deckies, ${r.edges} edges: ` +
          `generate ${ms(r.generateMs)}, validate ${ms(r.validateMs)}, persist ${ms(r.persistMs)} ` +
          `(${((r.persistMs * 1000) / (r.lans + r.deckies + r.edges)).toFixed(0)} µs per row)`
      )
    }
    return { latency, persist }
  } finally {
    await rt.dispose()
  }
}

const main = async () => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-bench-topology-"))
  const mysqlUrl = process.env.DECNET_BENCH_MYSQL_URL ?? process.env.DECNET_TEST_MYSQL_URL
  try {
    console.log(`bench:topology — ${OPS} ops per series after ${WARMUP} warm-up ops; node ${process.version}`)
    await onBackend("sqlite", SqliteLive(join(dir, "decnet.db")), dir)
    if (mysqlUrl !== undefined && mysqlUrl !== "") {
      const dbName = `decnet_bench_${Date.now().toString(36)}`
      const admin = await createConnection(mysqlUrl)
      await admin.query(`CREATE DATABASE \`${dbName}\``)
      try {
        const u = new URL(mysqlUrl)
        u.pathname = `/${dbName}`
        await onBackend("mariadb", MysqlLive(Redacted.make(u.toString())), dir)
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``)
        await admin.end()
      }
    } else console.log("[mariadb] skipped: set DECNET_BENCH_MYSQL_URL (or DECNET_TEST_MYSQL_URL)")

    const inproc = await Effect.runPromise(Effect.scoped(inProcessDeploy(dir)))
    const deckies = inproc.reduce((n, r) => n + r.deckies, 0)
    const deploy = inproc.reduce((n, r) => n + r.deploy, 0)
    console.log(
      `[in-process] depth 2, branching 2 on loopback: deploy ${(deploy / deckies).toFixed(1)} ms per decky ` +
        `(${deckies} deckies over ${inproc.length} rounds; teardown ${(
          inproc.reduce((n, r) => n + r.teardown, 0) / deckies
        ).toFixed(1)} ms per decky)`
    )

    if (process.env.DECNET_BENCH_DOCKER === "1") {
      const docker = await import("./topologyDocker.js")
      const rt = ManagedRuntime.make(docker.dockerTopologyLayer)
      try {
        const rounds = await rt.runPromise(docker.measureDockerTopologyDeploy({}))
        const n = rounds.reduce((a, r) => a + r.deckies, 0)
        const s = rounds.reduce((a, r) => a + r.deploySeconds, 0)
        console.log(
          `[docker] depth 2, branching 2: deploy ${(s / n).toFixed(2)} s per decky (${n} deckies, ${rounds.length} rounds); ` +
            `the in-process runtime is ${((s * 1000) / n / (deploy / deckies)).toFixed(0)}× faster per decky`
        )
      } finally {
        await rt.dispose()
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
