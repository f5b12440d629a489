/**
 * Where the fleet's state lives: the `deployment` key of the `state` table (the whole Deployment and the
 * ports its services bound), mirrored per decky into `fleet_deckies` (spec/fleet.md §1). The database is
 * the source of truth; nothing is kept in a file beside the code.
 */
import { Effect, Option, Schema } from "effect"
import { FleetRepo, LOCAL_HOST } from "../db/FleetRepo.js"
import { StateRepo } from "../db/StateRepo.js"
import { type BoundPort, Decky, type DeckyState, Deployment, DeploymentState } from "./Model.js"

export const DEPLOYMENT_KEY = "deployment"

const decodeState = Schema.decodeUnknown(DeploymentState)
const encodeState = Schema.encode(DeploymentState)
/** `decky_config` holds the decky's JSON form; a row decodes it back through the same Schema. */
const encodeDeckyConfig = (decky: Decky) => Effect.orDie(Schema.encode(Decky)(decky))

export class FleetStore extends Effect.Service<FleetStore>()("decnet/FleetStore", {
  effect: Effect.gen(function* () {
    const state = yield* StateRepo
    const fleet = yield* FleetRepo

    /** The current deployment, if any. A stored value that no longer decodes is a defect (a bug or a hand edit). */
    const load = Effect.fn("FleetStore.load")(function* () {
      const raw = yield* state.get(DEPLOYMENT_KEY)
      if (raw === null) return Option.none<DeploymentState>()
      return Option.some(yield* decodeState(raw).pipe(Effect.orDie))
    })

    /** Save the deployment and mirror every decky into `fleet_deckies` (rows of deckies it no longer has are removed). */
    const save = Effect.fn("FleetStore.save")(function* (deployment: DeploymentState) {
      yield* state.set(DEPLOYMENT_KEY, yield* encodeState(deployment).pipe(Effect.orDie))
      const names = new Set(deployment.config.deckies.map((d) => d.name))
      for (const row of yield* fleet.list(LOCAL_HOST)) if (!names.has(row.name)) yield* fleet.delete(row.name)
      for (const decky of deployment.config.deckies) {
        const previous = yield* fleet.get(decky.name)
        yield* fleet.upsert({
          name: decky.name,
          services: [...decky.services],
          decky_config: yield* encodeDeckyConfig(decky),
          decky_ip: decky.ip,
          state: Option.match(previous, { onNone: () => "pending", onSome: (p) => p.state })
        })
      }
    })

    /** Record one decky's state as the reconciler (or a deploy) saw it. */
    const setState = Effect.fn("FleetStore.setState")(function* (
      name: string,
      next: DeckyState,
      error: string | null = null
    ) {
      const row = yield* fleet.get(name)
      if (Option.isNone(row)) return
      yield* fleet.upsert({
        name,
        services: [...row.value.services],
        decky_config: row.value.decky_config,
        decky_ip: row.value.decky_ip,
        state: next,
        last_error: error,
        last_seen: new Date()
      })
    })

    /** Forget the deployment and its rows (teardown --all). */
    const clear = Effect.fn("FleetStore.clear")(function* () {
      yield* state.set(DEPLOYMENT_KEY, null)
      for (const row of yield* fleet.list(LOCAL_HOST)) yield* fleet.delete(row.name)
    })

    /** Replace one decky (a mutation, a live edit) and save. */
    const updateDecky = Effect.fn("FleetStore.updateDecky")(function* (
      decky: Decky,
      ports?: ReadonlyArray<BoundPort>
    ) {
      const current = yield* load()
      if (Option.isNone(current)) return false
      const d = current.value
      const deckies = d.config.deckies.map((x) => (x.name === decky.name ? decky : x))
      const [first, ...rest] = deckies
      if (first === undefined) return false
      yield* save({
        config: new Deployment({ ...d.config, deckies: [first, ...rest] }),
        ports: ports === undefined ? d.ports : { ...d.ports, [decky.name]: ports }
      })
      return true
    })

    return { load, save, setState, clear, updateDecky } as const
  })
}) {}
