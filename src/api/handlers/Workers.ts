/**
 * The `workers` group (spec api §7.15) and `/system/deployment-mode` (§7.20): the registry's rows with
 * whether each `decnet-<name>.service` unit is installed, stop through the bus's control topic, start
 * through systemd.
 */
import * as NodeFs from "node:fs"
import { Command, HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Chunk, Clock, Effect, Option, Schema, Stream } from "effect"
import { AppBus } from "../../bus/AppBus.js"
import { CONTROL_EVENT_TYPE, type ControlPayload } from "../../bus/Control.js"
import { KNOWN_WORKERS, WorkerName, WorkerRegistry } from "../../bus/Registry.js"
import { systemControl } from "../../bus/Topics.js"
import { DecnetConfig } from "../../config/DecnetConfig.js"
import { SqlCount } from "../../db/Columns.js"
import { DecnetApi } from "../Contract.js"
import { BadGateway, NotFound, ServiceUnavailable } from "../Errors.js"
import { CurrentUser } from "../Security.js"
import { makeTtlValue } from "../TtlCache.js"

/** Where systemd unit files live; a unit is installed when its file is in one of them. */
export const UNIT_DIRS = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]

/** The start-all order (spec §7.15), then the remaining known names. */
const START_ORDER: ReadonlyArray<string> = [
  "bus",
  "api",
  "collector",
  "profiler",
  "sniffer",
  "prober",
  "mutator",
  "reconciler",
  "reuse-correlator",
  "attribution",
  "enrich",
  "clusterer",
  "campaign-clusterer",
  "webhook",
  "orchestrator"
]

const unitOf = (name: string) => `decnet-${name}.service`
const isWorker = Schema.is(WorkerName)
const decodeCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ n: Schema.NullOr(SqlCount) })))

export const WorkersHandlers = HttpApiBuilder.group(DecnetApi, "workers", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* WorkerRegistry
    const appBus = yield* AppBus
    const config = yield* DecnetConfig
    const sql = yield* SqlClient.SqlClient

    const installedNow = Effect.sync(
      () =>
        new Set<string>(
          KNOWN_WORKERS.filter((name) => UNIT_DIRS.some((dir) => NodeFs.existsSync(`${dir}/${unitOf(name)}`)))
        )
    )
    const installed = yield* makeTtlValue(installedNow, "30 seconds")

    const known = (name: string) =>
      isWorker(name)
        ? Effect.succeed(name)
        : Effect.fail(new NotFound({ detail: `Unknown worker: '${name}'` }))

    /** `systemctl <verb> <unit>`: exit code and the first stderr line. */
    const systemctl = (...args: Array<string>) =>
      Effect.scoped(
        Effect.gen(function* () {
          const proc = yield* Command.start(Command.make("systemctl", ...args))
          const [code, stderr] = yield* Effect.all(
            [proc.exitCode, Stream.runCollect(Stream.decodeText(proc.stderr))],
            { concurrency: 2 }
          )
          return { code: Number(code), stderr: Chunk.join(stderr, "").split("\n")[0]?.slice(0, 200) ?? "" }
        })
      ).pipe(Effect.catchAll((e) => Effect.succeed({ code: 127, stderr: String(e.message).slice(0, 200) })))

    const start = (name: string) =>
      Effect.gen(function* () {
        if (!(yield* installed.get).has(name))
          return yield* new ServiceUnavailable({ detail: `unit file not installed: ${unitOf(name)}` })
        const r = yield* systemctl("start", unitOf(name))
        if (r.code !== 0)
          return yield* new BadGateway({ detail: r.stderr === "" ? `systemctl exited ${r.code}` : r.stderr })
      })

    const swarmHosts =
      sql`SELECT COUNT(*) AS n FROM ${sql("swarm_hosts")} WHERE ${sql("status")} IN ('active', 'enrolled') AND ${sql(
        "address"
      )} IS NOT NULL AND ${sql("address")} <> ''`.pipe(
        Effect.flatMap(decodeCount),
        Effect.map((rows) => rows[0]?.n ?? 0),
        Effect.orDie
      )

    return handlers
      .handle("workers", () =>
        Effect.gen(function* () {
          const rows = yield* registry.snapshot
          const units = yield* installed.get
          return {
            workers: rows.map((r) => ({ ...r, installed: units.has(r.name) })),
            generated_at: (yield* Clock.currentTimeMillis) / 1000,
            bus_connected: yield* appBus.connected
          }
        })
      )
      .handle("stop", ({ path }) =>
        Effect.gen(function* () {
          const name = yield* known(path.name)
          const me = yield* CurrentUser
          const bus = yield* appBus.get
          if (Option.isNone(bus)) return yield* new ServiceUnavailable({ detail: "bus unavailable" })
          const topic = yield* systemControl(name).pipe(Effect.orDie)
          const payload: ControlPayload = {
            action: "stop",
            requested_by: me.username,
            ts: (yield* Clock.currentTimeMillis) / 1000
          }
          yield* bus.value
            .publish(topic, { ...payload }, CONTROL_EVENT_TYPE)
            .pipe(Effect.mapError(() => new ServiceUnavailable({ detail: "bus unavailable" })))
          return { accepted: true as const, worker: name, action: "stop" as const }
        })
      )
      .handle("start", ({ path }) =>
        Effect.gen(function* () {
          const name = yield* known(path.name)
          yield* start(name)
          return { accepted: true as const, worker: name, action: "start" as const }
        })
      )
      .handle("startAll", () =>
        Effect.gen(function* () {
          const units = yield* installed.get
          const order = [...START_ORDER, ...KNOWN_WORKERS.filter((n) => !START_ORDER.includes(n))]
          const started: Array<string> = []
          const already: Array<string> = []
          const failed: Array<{ name: string; reason: string }> = []
          for (const name of order) {
            if (!units.has(name)) continue
            const active = yield* systemctl("is-active", "--quiet", unitOf(name))
            if (active.code === 0) {
              already.push(name)
              continue
            }
            const r = yield* systemctl("start", unitOf(name))
            if (r.code === 0) started.push(name)
            else failed.push({ name, reason: r.stderr === "" ? `systemctl exited ${r.code}` : r.stderr })
          }
          return { started, already_running: already, failed }
        })
      )
      .handle("deploymentMode", () =>
        Effect.gen(function* () {
          const hosts = yield* swarmHosts
          return {
            mode: config.mode === "master" && hosts > 0 ? ("swarm" as const) : ("unihost" as const),
            role: config.mode,
            swarm_host_count: hosts
          }
        })
      )
  })
)
