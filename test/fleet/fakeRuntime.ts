// A scriptable DeckyRuntime for unit tests of the mutator and the reconciler (the real runtimes have
// their own tests), plus builders for deckies and deployments and the database layer they run on.
import { Effect, Layer, Option, Ref } from "effect"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { FleetRepo, MigrationsLive, StateRepo } from "../../src/db/index.js"
import {
  type BoundPort,
  Decky,
  type DeckyState,
  Deployment,
  type DeploymentState,
  type RuntimeKind
} from "../../src/fleet/Model.js"
import { DeckyRuntimeError, type DeckyRuntimeService, DeckyStatus } from "../../src/fleet/Runtime.js"
import { FleetStore } from "../../src/fleet/Store.js"
import type { Backend } from "../db/backends.js"

export const makeDecky = (name: string, overrides: Partial<ConstructorParameters<typeof Decky>[0]> = {}) =>
  new Decky({
    name,
    ip: "127.77.0.2",
    services: ["ssh"],
    distro: "debian",
    base_image: "debian:bookworm-slim",
    build_base: "debian:bookworm-slim",
    hostname: name,
    archetype: null,
    service_config: {},
    nmap_os: "linux",
    mutate_interval: null,
    last_mutated: 0,
    last_login_attempt: 0,
    host_uuid: null,
    ...overrides
  })

export const makeDeployment = (
  deckies: ReadonlyArray<Decky>,
  overrides: Partial<ConstructorParameters<typeof Deployment>[0]> = {}
): DeploymentState => {
  const [first, ...rest] = deckies
  if (first === undefined) throw new Error("a deployment needs a decky")
  return {
    config: new Deployment({
      mode: "unihost",
      runtime: "inprocess",
      interface: "lo",
      subnet: "127.77.0.0/24",
      gateway: "127.77.0.1",
      deckies: [first, ...rest],
      log_file: null,
      ipvlan: false,
      mutate_interval: null,
      ...overrides
    }),
    ports: {}
  }
}

export interface UpCall {
  readonly decky: string
  readonly services: ReadonlyArray<string>
}

export interface FakeRuntime {
  readonly service: DeckyRuntimeService
  readonly ups: Ref.Ref<ReadonlyArray<UpCall>>
  /** What `status` reports, by decky name. */
  readonly statuses: Ref.Ref<ReadonlyMap<string, DeckyStatus>>
  /** When set, `up` fails with this message. */
  readonly upFails: Ref.Ref<Option.Option<string>>
  /** When set, `status` fails with this message. */
  readonly statusFails: Ref.Ref<Option.Option<string>>
  readonly setStatus: (name: string, state: DeckyState, error?: string | null) => Effect.Effect<void>
}

export const portsOf = (decky: Decky): ReadonlyArray<BoundPort> =>
  decky.services.map((service, i) => ({
    service,
    proto: "tcp",
    known: 1000 + i,
    host: decky.ip,
    port: 11000 + i
  }))

/** `onUp` runs first in every `up` (e.g. to look at the database at that moment). */
export const makeFakeRuntime = (
  kind: RuntimeKind = "inprocess",
  onUp: (decky: Decky) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<FakeRuntime> =>
  Effect.gen(function* () {
    const ups = yield* Ref.make<ReadonlyArray<UpCall>>([])
    const statuses = yield* Ref.make<ReadonlyMap<string, DeckyStatus>>(new Map())
    const upFails = yield* Ref.make(Option.none<string>())
    const statusFails = yield* Ref.make(Option.none<string>())
    const setStatus = (name: string, state: DeckyState, error: string | null = null) =>
      Ref.update(statuses, (m) =>
        new Map(m).set(name, new DeckyStatus({ name, state, services: [], ports: [], error }))
      )
    const service: DeckyRuntimeService = {
      kind,
      prepare: () => Effect.void,
      up: (decky) =>
        Effect.gen(function* () {
          yield* onUp(decky)
          yield* Ref.update(ups, (xs) => [...xs, { decky: decky.name, services: [...decky.services] }])
          const failure = yield* Ref.get(upFails)
          if (Option.isSome(failure))
            return yield* new DeckyRuntimeError({ decky: decky.name, message: failure.value })
          // Reported as the real runtimes do: every service running, on the ports it bound.
          yield* Ref.update(statuses, (m) =>
            new Map(m).set(
              decky.name,
              new DeckyStatus({
                name: decky.name,
                state: "running",
                services: decky.services.map((service) => ({ service, state: "running" as const })),
                ports: portsOf(decky),
                error: null
              })
            )
          )
          return portsOf(decky)
        }),
      down: (name) =>
        Ref.update(statuses, (m) => {
          const next = new Map(m)
          next.delete(name)
          return next
        }),
      release: () => Effect.void,
      status: Effect.flatMap(Ref.get(statusFails), (failure) =>
        Option.isSome(failure)
          ? Effect.fail(new DeckyRuntimeError({ decky: null, message: failure.value }))
          : Effect.map(Ref.get(statuses), (m) => [...m.values()])
      )
    }
    return { service, ups, statuses, upFails, statusFails, setStatus }
  })

/** FleetStore over a migrated database of `backend`, with the repositories it is made of. */
export const fleetLayer = (backend: Backend) =>
  FleetStore.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(StateRepo.Default, FleetRepo.Default)),
    Layer.provideMerge(MigrationsLive),
    Layer.provide(backend.layer),
    Layer.provide(DecnetConfig.fromMap({}))
  )

/** Forget the deployment and every fleet row (any host), so each test starts from nothing. */
export const resetFleet = Effect.gen(function* () {
  const store = yield* FleetStore
  const repo = yield* FleetRepo
  yield* store.clear()
  for (const row of yield* repo.list()) yield* repo.delete(row.name, row.host_uuid)
})
