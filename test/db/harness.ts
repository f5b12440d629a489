// Builds the repositories over a backend, migrated, for one describe block.
import { Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { FleetRepo, LogRepo, MigrationsLive, StateRepo, UserRepo } from "../../src/db/index.js"
import type { Backend } from "./backends.js"

// bcrypt cost 4 keeps the tests quick; production default is 12.
const TestConfig = DecnetConfig.fromMap({ DECNET_BCRYPT_ROUNDS: "4" })

export const reposLayer = (backend: Backend) =>
  Layer.mergeAll(StateRepo.Default, UserRepo.Default, LogRepo.Default, FleetRepo.Default).pipe(
    Layer.provideMerge(MigrationsLive),
    Layer.provideMerge(backend.layer),
    Layer.provide(TestConfig)
  )

export type Repos = StateRepo | UserRepo | LogRepo | FleetRepo

export const useRuntime = (backend: Backend) => {
  let runtime: ManagedRuntime.ManagedRuntime<Repos, unknown> | undefined
  beforeAll(async () => {
    const rt = ManagedRuntime.make(reposLayer(backend))
    runtime = rt
    await rt.runPromise(StateRepo)
  })
  afterAll(async () => {
    await runtime?.dispose()
  })
  return () => {
    if (runtime === undefined) throw new Error("runtime not built yet")
    return runtime
  }
}
