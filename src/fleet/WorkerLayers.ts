/**
 * What the standalone fleet workers (`decnet mutate`, `decnet reconcile`) run on: the configured database,
 * migrated first (idempotent, so every worker may run them), with the FleetStore over it; the Docker
 * runtime, because an in-process fleet lives inside `decnet up`, which runs these loops itself; and the
 * configured bus, or the null bus when it cannot be made (a worker never dies for want of hints).
 */
import { Effect, Layer } from "effect"
import { Bus, type BusService } from "../bus/Bus.js"
import { makeBus } from "../bus/BusLive.js"
import { nullBus } from "../bus/NullBus.js"
import { DbLive } from "../db/Client.js"
import { FleetRepo } from "../db/FleetRepo.js"
import { MigrationsLive } from "../db/Migrations.js"
import { StateRepo } from "../db/StateRepo.js"
import { DockerLive } from "../docker/DockerLive.js"
import { DockerRuntimeLive } from "./DockerRuntime.js"
import { FleetStore } from "./Store.js"

/** FleetStore and its repositories on the configured database, migrated. */
export const FleetStoreLive = FleetStore.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(StateRepo.Default, FleetRepo.Default, MigrationsLive)),
  Layer.provide(DbLive)
)

/** The Docker runtime over the configured engine. */
export const DockerDeckyRuntimeLive = DockerRuntimeLive().pipe(Layer.provide(DockerLive))

/** The configured bus as `clientName`, or the null bus (logged) when it cannot be made. */
export const optionalBus = (clientName: string) =>
  Layer.scoped(
    Bus,
    makeBus({ clientName }).pipe(
      Effect.catchAll((e) =>
        Effect.as(
          Effect.logWarning(`${clientName}: no bus (${e.message}); running on the poll alone`),
          nullBus satisfies BusService
        )
      )
    )
  )
