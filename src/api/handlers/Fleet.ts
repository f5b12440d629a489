/**
 * The `fleet` group (spec api §7.12): the deckies, deploy by INI with lifecycle rows, the lifecycle poll,
 * mutate, the mutation interval, and removal. The work a deploy or mutate starts runs in the background,
 * in the server's scope, and moves its lifecycle rows to `succeeded` or `failed`.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Either, FiberSet, Option, Schema } from "effect"
import { AppBus } from "../../bus/AppBus.js"
import { decky as deckyTopic } from "../../bus/Topics.js"
import { DecnetConfig } from "../../config/DecnetConfig.js"
import { FleetRepo } from "../../db/FleetRepo.js"
import { LifecycleRepo, type LifecycleStatus } from "../../db/LifecycleRepo.js"
import { StateRepo } from "../../db/StateRepo.js"
import { LOOPBACK_LAN } from "../../fleet/Fleet.js"
import { loadIniFromString } from "../../fleet/Ini.js"
import { Decky, type Deployment } from "../../fleet/Model.js"
import { makeDeployment, planFromIni } from "../../fleet/Plan.js"
import { FleetStore } from "../../fleet/Store.js"
import { isHoneypotSlug } from "../../honeypots/Registry.js"
import { drawServices, pickPool } from "../../mutator/Rotation.js"
import { DecnetApi } from "../Contract.js"
import { Conflict, NotFound } from "../Errors.js"
import { FleetControl } from "../FleetControl.js"
import { CurrentUser } from "../Security.js"
import { makeTtlValue } from "../TtlCache.js"
import { DEFAULT_DEPLOYMENT_LIMIT, LIMITS_KEY } from "./Config.js"

const Limits = Schema.Struct({ deployment_limit: Schema.Number })
const decodeDecky = Schema.decodeUnknownOption(Decky)

/** `^[1-9]\d*[mdMyY]$` in minutes: m minutes, d days, M 30 days, y/Y 365 days. */
export const intervalMinutes = (text: string): number => {
  const n = Number(text.slice(0, -1))
  const unit = text.slice(-1)
  return unit === "m" ? n : unit === "d" ? n * 1440 : unit === "M" ? n * 43_200 : n * 525_600
}

/** The validation-phase INI errors of spec §3, then the parser's own text. */
const iniConflict = (message: string) => {
  if (message.includes("INI content is empty")) return "Configuration conflict: INI content is empty."
  if (message.includes("Invalid INI format"))
    return "Configuration conflict: INI syntax or characters are invalid."
  if (message.includes("at least one section"))
    return "Invalid INI config structure: No decky sections found."
  return message
}

/** `GET /deckies`, cached 5 s (§6); every route that changes a decky invalidates it. */
export class DeckiesCache extends Effect.Service<DeckiesCache>()("decnet/api/DeckiesCache", {
  effect: Effect.gen(function* () {
    const rows = yield* FleetRepo
    return yield* makeTtlValue(
      Effect.map(rows.list(), (list) => list.flatMap((r) => Option.toArray(decodeDecky(r.decky_config)))),
      "5 seconds"
    )
  }),
  dependencies: [FleetRepo.Default]
}) {}

export const FleetHandlers = HttpApiBuilder.group(DecnetApi, "fleet", (handlers) =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const lifecycle = yield* LifecycleRepo
    const state = yield* StateRepo
    const control = yield* FleetControl
    const config = yield* DecnetConfig
    const background = yield* FiberSet.make()
    const appBus = yield* AppBus
    const fleetRows = yield* FleetRepo

    /** Move lifecycle rows on and tell the bus (`decky.<name>.lifecycle`, relayed by `/events`). */
    const progress = (
      rows: ReadonlyArray<{ readonly id: string; readonly decky: string }>,
      operation: string,
      status: LifecycleStatus,
      error: string | null = null
    ) =>
      Effect.gen(function* () {
        yield* lifecycle.update(
          rows.map((r) => r.id),
          status,
          error
        )
        for (const r of rows) {
          const topic = deckyTopic(r.decky, "lifecycle")
          if (topic._tag === "Right")
            yield* appBus.publish(
              topic.right,
              { id: r.id, decky: r.decky, operation, status, error },
              "lifecycle"
            )
        }
      })

    const deckiesCache = yield* DeckiesCache

    const limit = Effect.map(state.get(LIMITS_KEY), (raw) =>
      Option.match(Schema.decodeUnknownOption(Limits)(raw), {
        onNone: () => DEFAULT_DEPLOYMENT_LIMIT,
        onSome: (l) => l.deployment_limit
      })
    )

    /** Run the deployment in the background; its rows end `succeeded` or `failed`. */
    const runDeploy = (deployment: Deployment, ids: ReadonlyMap<string, string>) => {
      const all = [...ids].map(([decky, id]) => ({ decky, id }))
      return Effect.gen(function* () {
        yield* progress(all, "deploy", "running")
        const outcome = yield* Effect.either(control.apply(deployment))
        yield* deckiesCache.invalidate
        if (Either.isLeft(outcome)) return yield* progress(all, "deploy", "failed", outcome.left)
        for (const row of all) {
          const error = outcome.right.get(row.decky)
          yield* progress([row], "deploy", error === undefined ? "succeeded" : "failed", error ?? null)
        }
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Effect.logError("background deploy failed", cause),
            progress(all, "deploy", "failed", "internal error (see the API log)")
          )
        )
      )
    }

    return handlers
      .handle("deckies", () => deckiesCache.get)
      .handle("status", () =>
        Effect.gen(function* () {
          const current = yield* store.load()
          const rows = yield* fleetRows.list()
          return {
            runtime: Option.match(current, { onNone: () => null, onSome: (c) => c.config.runtime }),
            deckies: rows.map((r) => ({
              name: r.name,
              state: r.state,
              last_error: r.last_error,
              last_seen: r.last_seen,
              ports: Option.match(current, { onNone: () => [], onSome: (c) => c.ports[r.name] ?? [] })
            }))
          }
        }).pipe(Effect.orDie)
      )
      .handle("lifecycle", ({ urlParams }) => Effect.map(lifecycle.get(urlParams.ids), (rows) => ({ rows })))
      .handle("deploy", ({ payload }) =>
        Effect.gen(function* () {
          const parsed = loadIniFromString(payload.ini_content)
          if (Either.isLeft(parsed)) return yield* new Conflict({ detail: iniConflict(parsed.left.message) })
          const ini = parsed.right
          const current = Option.map(yield* store.load(), (s) => s.config)
          const existing = payload.replace_fleet
            ? []
            : Option.match(current, { onNone: () => [], onSome: (c) => c.deckies })
          for (const spec of ini.deckies) {
            if (existing.some((d) => d.name === spec.name))
              return yield* new Conflict({
                detail: `decky '${spec.name}' already exists; submit with replace_fleet=true to overwrite the fleet`
              })
            if (spec.ip !== null && existing.some((d) => d.ip === spec.ip))
              return yield* new Conflict({ detail: `IP ${spec.ip} is already in use by an existing decky` })
          }
          const runtime = Option.match(current, { onNone: () => control.runtime, onSome: (c) => c.runtime })
          const lan = yield* Option.match(current, {
            onSome: (c) =>
              Effect.succeed({ interface: c.interface, subnet: c.subnet, gateway: c.gateway, hostIp: "" }),
            onNone: () =>
              runtime === "inprocess"
                ? Effect.succeed(LOOPBACK_LAN)
                : ini.subnet !== null && ini.gateway !== null && ini.interface !== null
                  ? Effect.succeed({
                      interface: ini.interface,
                      subnet: ini.subnet,
                      gateway: ini.gateway,
                      hostIp: ""
                    })
                  : control.lan.pipe(
                      Effect.map((l) => ({
                        interface: ini.interface ?? l.interface,
                        subnet: ini.subnet ?? l.subnet,
                        gateway: ini.gateway ?? l.gateway,
                        hostIp: l.hostIp
                      })),
                      Effect.mapError(
                        (e) =>
                          new Conflict({
                            detail: `Network configuration conflict: ${e}. Add a [general] section with interface=, net=, and gw= to the INI.`
                          })
                      )
                    )
          })
          const planned = yield* planFromIni(
            ini,
            { subnet: lan.subnet, gateway: lan.gateway, hostIp: lan.hostIp === "" ? null : lan.hostIp },
            { existing, runnable: isHoneypotSlug }
          ).pipe(Effect.mapError((e) => new Conflict({ detail: e.message })))
          const all = [...existing, ...planned]
          const max = yield* limit
          if (all.length > max)
            return yield* new Conflict({
              detail: `Deployment would result in ${all.length} deckies, exceeding the configured limit of ${max}`
            })
          const deployment = yield* makeDeployment({
            runtime,
            interface: lan.interface,
            subnet: lan.subnet,
            gateway: lan.gateway,
            deckies: all,
            log_file: Option.match(current, { onNone: () => null, onSome: (c) => c.log_file }),
            ipvlan: Option.match(current, { onNone: () => false, onSome: (c) => c.ipvlan }),
            mutate_interval: Option.match(current, { onNone: () => 30, onSome: (c) => c.mutate_interval })
          }).pipe(Effect.mapError((e) => new Conflict({ detail: e.message })))
          const submitted = payload.replace_fleet ? all : planned
          const ids = yield* lifecycle.create(
            "deploy",
            submitted.map((d) => ({ name: d.name, host_uuid: d.host_uuid }))
          )
          const byName = new Map(submitted.map((d, i) => [d.name, ids[i] ?? ""] as const))
          if (!config.api.contractTest) yield* FiberSet.run(background, runDeploy(deployment, byName))
          const k = submitted.length
          return {
            message: `Deploy accepted (${k} decky/ies, mode=${deployment.mode}). Poll /deckies/lifecycle?ids=... for completion.`,
            mode: deployment.mode,
            lifecycle_ids: ids
          }
        })
      )
      .handle("mutate", ({ path }) =>
        Effect.gen(function* () {
          const me = yield* CurrentUser
          const current = yield* store.load()
          if (Option.isNone(current)) return yield* new NotFound({ detail: "No active deployment" })
          const decky = current.value.config.deckies.find((d) => d.name === path.decky_name)
          if (decky === undefined)
            return yield* new NotFound({ detail: `Decky ${path.decky_name} not found` })
          if (Option.isNone(yield* drawServices(pickPool(decky), decky.services)))
            return yield* new NotFound({ detail: `No services available to mutate ${decky.name}` })
          if (config.api.contractTest) return { lifecycle_ids: ["contract-test"] }
          const ids = yield* lifecycle.create("mutate", [{ name: decky.name, host_uuid: decky.host_uuid }])
          yield* FiberSet.run(
            background,
            Effect.gen(function* () {
              const rows = ids.map((id) => ({ id, decky: decky.name }))
              yield* progress(rows, "mutate", "running")
              const done = yield* Effect.either(control.mutate(decky.name, me.username))
              yield* deckiesCache.invalidate
              yield* progress(
                rows,
                "mutate",
                Either.isRight(done) ? "succeeded" : "failed",
                Either.isLeft(done) ? done.left : null
              )
            })
          )
          return { lifecycle_ids: ids }
        })
      )
      .handle("mutateInterval", ({ path, payload }) =>
        Effect.gen(function* () {
          const current = yield* store.load()
          if (Option.isNone(current)) return yield* new NotFound({ detail: "No active deployment" })
          const decky = current.value.config.deckies.find((d) => d.name === path.decky_name)
          if (decky === undefined) return yield* new NotFound({ detail: "Decky not found" })
          const minutes = payload.mutate_interval === null ? null : intervalMinutes(payload.mutate_interval)
          yield* store.updateDecky(new Decky({ ...decky, mutate_interval: minutes }))
          yield* deckiesCache.invalidate
          return { message: "Mutation interval updated" }
        })
      )
      .handle("remove", ({ path }) =>
        Effect.gen(function* () {
          const current = yield* store.load()
          if (Option.isNone(current)) return yield* new NotFound({ detail: "No active deployment" })
          if (!current.value.config.deckies.some((d) => d.name === path.decky_name))
            return yield* new NotFound({ detail: `Decky ${path.decky_name} not found` })
          yield* control.remove(path.decky_name).pipe(Effect.mapError((detail) => new Conflict({ detail })))
          yield* deckiesCache.invalidate
        })
      )
  })
)
