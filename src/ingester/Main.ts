/**
 * `decnet ingest` as a process: the configured database (migrated first, as every worker may), the bus
 * (the null bus when it is disabled or cannot be made: the ingester's job is the database), and the
 * worker until SIGTERM/SIGINT or a stop intent on `system.ingester.control`. Loaded lazily by the
 * command, so `decnet --help` never loads the SQL drivers.
 */
import { Effect, Layer } from "effect"
import { BusLive } from "../bus/BusLive.js"
import { NullBusLive } from "../bus/NullBus.js"
import { DbLive } from "../db/Client.js"
import { MigrationsLive } from "../db/Migrations.js"
import { INGESTER_WORKER, ingesterOptions, runIngester } from "./Ingester.js"
import { IngestStore } from "./Store.js"

const optionalBus = BusLive({ clientName: INGESTER_WORKER }).pipe(
  Layer.catchAll((e) =>
    Layer.effectDiscard(Effect.logWarning(`no bus (${e.message}); storing without notifications`)).pipe(
      Layer.provideMerge(NullBusLive)
    )
  )
)

/** Run the ingester on `logFile` (default DECNET_INGEST_LOG_FILE; its `.json` twin is read). */
export const runIngesterMain = (logFile?: string) =>
  Effect.flatMap(ingesterOptions(logFile), runIngester).pipe(
    Effect.provide(
      Layer.mergeAll(IngestStore.Default, MigrationsLive, optionalBus).pipe(Layer.provideMerge(DbLive))
    )
  )
