/**
 * `decnet collect` as a process: positions recovered, the evidence writer, the bus (the null bus when it
 * is disabled or cannot be made), the core, the Docker source, the `collector` heartbeat and the stop
 * listener. SIGTERM/SIGINT interrupt it like a stop intent: the scope closes, the last positions are
 * written, the bus client says goodbye. Loaded lazily by the command (it pulls in dockerode).
 */
import { Effect, Layer, Schedule } from "effect"
import { Bus, type BusService, type Payload } from "../bus/Bus.js"
import { makeBus } from "../bus/BusLive.js"
import { untilStopRequested } from "../bus/Control.js"
import { runHealthHeartbeat } from "../bus/Heartbeat.js"
import { nullBus } from "../bus/NullBus.js"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { Docker } from "../docker/Docker.js"
import { DockerLive } from "../docker/DockerLive.js"
import { Collector, makeCollector } from "./Collector.js"
import { makeCursorStore } from "./Cursor.js"
import { startDockerSource } from "./DockerSource.js"
import { evidencePaths } from "./Record.js"
import { EvidenceWriter, makeEvidenceWriter } from "./Writer.js"

export const WORKER_NAME = "collector"
const STATS_REFRESH = "10 seconds"

export interface CollectorMainOptions {
  /** The `.log` file; the `.json` and `.cursor` files sit beside it. */
  readonly logFile: string
}

/** A bus that cannot be made is not fatal: the collector writes its files either way. */
const optionalBus = makeBus({ clientName: WORKER_NAME }).pipe(
  Effect.catchAll((e) =>
    Effect.as(
      Effect.logWarning(`collector: no bus (${e.message}); writing files only`),
      nullBus satisfies BusService
    )
  )
)

/** Run the collector until SIGTERM/SIGINT or a stop intent on `system.collector.control`. */
export const runCollectorMain = (options: CollectorMainOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { pipeline } = yield* DecnetConfig
      const docker = yield* Docker
      yield* docker.ping
      const paths = evidencePaths(options.logFile)
      // Before anything appends: cut partial lines, read where each container stopped.
      const cursors = yield* makeCursorStore(paths)
      const r = cursors.recovered
      if (r.truncated.log > 0 || r.truncated.json > 0)
        yield* Effect.logWarning(
          `collector: cut an unterminated last line (${r.truncated.log} bytes of ${paths.log}, ${r.truncated.json} of ${paths.json}); it is read again`
        )
      yield* Effect.logInfo(
        `collector: writing ${paths.log} and ${paths.json}; ${r.positions.size} container positions (cursor file ${r.cursorFile}, ${r.scannedRecords} records scanned)`
      )
      const writer = yield* makeEvidenceWriter(options.logFile)
      const bus = yield* optionalBus
      const services = Layer.mergeAll(Layer.succeed(Bus, bus), Layer.succeed(EvidenceWriter, writer))
      const collector = yield* makeCollector.pipe(Effect.provide(services))

      const body = Effect.gen(function* () {
        const source = yield* startDockerSource(cursors, { reconcileSec: pipeline.reconcileSec }).pipe(
          Effect.provideService(Collector, collector)
        )
        // The heartbeat reads a snapshot (its `extra` is synchronous), refreshed a little more often.
        let snapshot: Payload = {}
        const refresh = Effect.gen(function* () {
          snapshot = { ...(yield* collector.stats), containers: (yield* source.followed).length }
        })
        yield* refresh
        yield* refresh.pipe(Effect.repeat(Schedule.spaced(STATS_REFRESH)), Effect.forkScoped)
        yield* runHealthHeartbeat(WORKER_NAME, () => snapshot)
        return yield* Effect.never
      })
      yield* untilStopRequested(WORKER_NAME, body).pipe(Effect.provideService(Bus, bus))
      yield* Effect.logInfo("collector: stopped on request")
    })
  ).pipe(Effect.provide(DockerLive))
