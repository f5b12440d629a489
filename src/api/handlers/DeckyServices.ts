/**
 * The `deckies` group (spec api §7.13): add, configure, apply and remove one service of a running decky,
 * each config checked by the service's own Schema first; and the tarpit of a fleet decky (Tarpit.ts, shared
 * with the topology routes).
 */
import { HttpApiBuilder } from "@effect/platform"
import { Clock, Effect, Option, Schema } from "effect"
import { findService } from "../../catalog/index.js"
import { Decky, PlantedFile } from "../../fleet/Model.js"
import { FleetStore } from "../../fleet/Store.js"
import { isHoneypotSlug, loadHoneypot } from "../../honeypots/Registry.js"
import { TarpitTarget } from "../../tarpit/Namespaces.js"
import { DecnetApi } from "../Contract.js"
import { BadRequest, Conflict, NotFound, Unprocessable } from "../Errors.js"
import { FleetControl } from "../FleetControl.js"
import { DeckiesCache } from "./Fleet.js"
import { TarpitRoutes } from "./Tarpit.js"

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const MAX_PLANTED_BYTES = 1024 * 1024
const isPlantedPath = Schema.is(PlantedFile.fields.path)

export const DeckyServicesHandlers = HttpApiBuilder.group(DecnetApi, "deckies", (handlers) =>
  Effect.gen(function* () {
    const store = yield* FleetStore
    const control = yield* FleetControl
    const tarpit = yield* TarpitRoutes

    const deckyOf = (name: string) =>
      Effect.gen(function* () {
        const current = yield* store.load()
        const decky = Option.flatMap(current, (c) =>
          Option.fromNullable(c.config.deckies.find((d) => d.name === name))
        )
        if (Option.isNone(decky)) return yield* new NotFound({ detail: `Decky ${name} not found` })
        return decky.value
      })

    /** A service a decky can run: known, not a fleet singleton, with an emulator in this build. */
    const runnable = (service: string) =>
      Effect.gen(function* () {
        const spec = findService(service)
        if (Option.isNone(spec)) return yield* new Unprocessable({ detail: `Unknown service '${service}'` })
        if (spec.value.fleet_singleton)
          return yield* new Unprocessable({ detail: `'${service}' runs once per fleet, not on a decky` })
        if (!isHoneypotSlug(service))
          return yield* new Unprocessable({ detail: `'${service}' has no emulator in this build yet` })
        return spec.value.slug
      })

    /** The config as the service's Schema takes it, refused with its message (400). */
    const checkConfig = (service: string, config: Readonly<Record<string, unknown>>) =>
      Effect.gen(function* () {
        const module = yield* loadHoneypot(service).pipe(
          Effect.mapError(() => new Unprocessable({ detail: `Unknown service '${service}'` }))
        )
        yield* module
          .validateConfig(config, "error")
          .pipe(Effect.mapError((e) => new BadRequest({ detail: e.message })))
      })

    const onDecky = (decky: Decky, service: string) =>
      decky.services.some((s) => s === service)
        ? Effect.void
        : Effect.fail(new Conflict({ detail: `Service '${service}' is not on decky '${decky.name}'` }))

    const deckies = yield* DeckiesCache
    const apply = (decky: Decky, recreate: boolean) =>
      control.update(decky, recreate).pipe(
        Effect.mapError((detail) => new Conflict({ detail })),
        Effect.zipRight(deckies.invalidate)
      )

    /** The decky a file goes to (§7.13: an unknown one is 422, a topology 404 until MazeNET exists). */
    const fileTarget = (name: string, topology: string | null) =>
      Effect.gen(function* () {
        if (topology !== null) return yield* new NotFound({ detail: "Topology not found" })
        const current = yield* store.load()
        const decky = Option.flatMap(current, (c) =>
          Option.fromNullable(c.config.deckies.find((d) => d.name === name))
        )
        if (Option.isNone(decky)) return yield* new Unprocessable({ detail: `decky '${name}' not found` })
        return decky.value
      })

    const checkPath = (path: string) =>
      isPlantedPath(path)
        ? Effect.void
        : Effect.fail(
            new Unprocessable({
              detail:
                "path must be absolute and normalised (e.g. /root/notes.txt): no . or .. segments, at most 4096 characters"
            })
          )

    return handlers
      .handle("plantFile", ({ payload }) =>
        Effect.gen(function* () {
          if (!BASE64.test(payload.content_b64) || payload.content_b64.length % 4 !== 0)
            return yield* new BadRequest({ detail: "content_b64 is not valid base64" })
          const decky = yield* fileTarget(payload.decky_name, payload.topology_id)
          yield* checkPath(payload.path)
          if (Buffer.byteLength(payload.content_b64, "base64") > MAX_PLANTED_BYTES)
            return yield* new Unprocessable({ detail: "a planted file is at most 1 MiB" })
          const now = yield* Clock.currentTimeMillis
          const file = {
            path: payload.path,
            content_b64: payload.content_b64,
            mode: payload.mode,
            mtime: payload.mtime_offset === 0 ? null : Math.floor(now / 1000) + payload.mtime_offset
          }
          const files = [...decky.files.filter((f) => f.path !== payload.path), file]
          yield* apply(new Decky({ ...decky, files }), true)
          return { message: "ok" }
        })
      )
      .handle("removeFile", ({ payload }) =>
        Effect.gen(function* () {
          const decky = yield* fileTarget(payload.decky_name, payload.topology_id)
          yield* checkPath(payload.path)
          // Already absent is success (§7.13).
          if (!decky.files.some((f) => f.path === payload.path)) return { message: "ok" }
          yield* apply(
            new Decky({ ...decky, files: decky.files.filter((f) => f.path !== payload.path) }),
            true
          )
          return { message: "ok" }
        })
      )
      .handle("addService", ({ path, payload }) =>
        Effect.gen(function* () {
          const slug = yield* runnable(payload.name)
          const decky = yield* deckyOf(path.decky_name)
          if (decky.services.some((s) => s === slug))
            return yield* new Conflict({ detail: `Service '${slug}' is already on decky '${decky.name}'` })
          yield* checkConfig(slug, payload.config)
          const updated = new Decky({
            ...decky,
            services: [...decky.services, slug],
            service_config: { ...decky.service_config, [slug]: payload.config }
          })
          yield* apply(updated, true)
          return { decky_name: decky.name, topology_id: null, services: updated.services }
        })
      )
      .handle("serviceConfig", ({ path, payload }) =>
        Effect.gen(function* () {
          const decky = yield* deckyOf(path.decky_name)
          yield* onDecky(decky, path.service_name)
          yield* checkConfig(path.service_name, payload.config)
          yield* apply(
            new Decky({
              ...decky,
              service_config: { ...decky.service_config, [path.service_name]: payload.config }
            }),
            false
          )
          return {
            decky_name: decky.name,
            service_name: path.service_name,
            topology_id: null,
            config: payload.config,
            recreated: false
          }
        })
      )
      .handle("applyService", ({ path, payload }) =>
        Effect.gen(function* () {
          const decky = yield* deckyOf(path.decky_name)
          yield* onDecky(decky, path.service_name)
          const config = payload.config ?? decky.service_config[path.service_name] ?? {}
          yield* checkConfig(path.service_name, config)
          yield* apply(
            new Decky({ ...decky, service_config: { ...decky.service_config, [path.service_name]: config } }),
            true
          )
          return {
            decky_name: decky.name,
            service_name: path.service_name,
            topology_id: null,
            config,
            recreated: true
          }
        })
      )
      .handle("removeService", ({ path }) =>
        Effect.gen(function* () {
          const decky = yield* deckyOf(path.decky_name)
          yield* onDecky(decky, path.service_name)
          const [first, ...rest] = decky.services.filter((s) => s !== path.service_name)
          if (first === undefined)
            return yield* new Conflict({
              detail: `'${path.service_name}' is the last service of decky '${decky.name}'; remove the decky instead`
            })
          const { [path.service_name]: _removed, ...config } = decky.service_config
          const updated = new Decky({ ...decky, services: [first, ...rest], service_config: config })
          yield* apply(updated, true)
          return { decky_name: decky.name, topology_id: null, services: updated.services }
        })
      )
      .handle("tarpitOn", ({ path, payload }) =>
        tarpit.on(TarpitTarget.Fleet({ name: path.decky_name }), payload)
      )
      .handle("tarpit", ({ path }) => tarpit.status(TarpitTarget.Fleet({ name: path.decky_name })))
      .handle("tarpitOff", ({ path }) => tarpit.off(TarpitTarget.Fleet({ name: path.decky_name })))
  })
)
