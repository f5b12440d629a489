/**
 * The `files` group (spec api §7.16, admin): a quarantined upload or message as raw bytes, and a shell
 * session's recording (asciicast v2) as paged events. Names are checked before any path is built, and
 * every path must stay under DECNET_ARTIFACTS_ROOT. Captures live in `<root>/<decky>/<service>/captured/`
 * (ssh) or `<root>/<decky>/<service>/` (ftp, smtp); a recording's path is the one its `session_recorded`
 * row names.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { DecnetConfig } from "../../config/DecnetConfig.js"
import { LogRepo } from "../../db/LogRepo.js"
import { DecnetApi } from "../Contract.js"
import { BadRequest, NotFound } from "../Errors.js"

const DECKY = /^[a-z0-9][a-z0-9-]{0,62}$/
/** The spec's extended form, and the compact one our captures are named with (`20260101T120000Z_…`). */
const STORED_AS = /^(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z|\d{8}T\d{6}Z)_[a-f0-9]{12}_[A-Za-z0-9._-]{1,255}$/
/** The spec's uuid form, or the form our ssh and telnet emulators write: base-36 ms time, `-`, 12 hex. */
const SID = /^(?:[a-f0-9-]{36}|[0-9a-z]{6,12}-[a-f0-9]{12})$/
/** Services that quarantine what attackers hand over. */
const CAPTURING = new Set(["ssh", "ftp", "smtp"])

const within = (root: string, file: string) => {
  const base = NodePath.resolve(root)
  const full = NodePath.resolve(file)
  return full.startsWith(`${base}${NodePath.sep}`)
}

const realWithin = (root: string, file: string) =>
  Option.liftThrowable(() => NodeFs.realpathSync(file))().pipe(
    Option.filter((real) =>
      within(
        Option.getOrElse(Option.liftThrowable(() => NodeFs.realpathSync(root))(), () => root),
        real
      )
    )
  )

type Cast = {
  readonly header: Record<string, unknown>
  readonly events: Array<readonly [number, string, string]>
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** An asciicast v2 file: the header line, then `[t, kind, data]` events; other lines are skipped. */
const parseCast = (text: string): Cast | undefined => {
  const lines = text.split("\n").filter((l) => l.trim() !== "")
  const first = lines[0]
  if (first === undefined) return undefined
  const header: unknown = Option.getOrUndefined(Option.liftThrowable(() => JSON.parse(first))())
  if (!isRecord(header)) return undefined
  const events: Array<readonly [number, string, string]> = []
  for (const line of lines.slice(1)) {
    const v: unknown = Option.getOrUndefined(Option.liftThrowable(() => JSON.parse(line))())
    if (Array.isArray(v) && typeof v[0] === "number" && typeof v[1] === "string" && typeof v[2] === "string")
      events.push([v[0], v[1], v[2]])
  }
  return { header, events }
}

export const FilesHandlers = HttpApiBuilder.group(DecnetApi, "files", (handlers) =>
  Effect.gen(function* () {
    const config = yield* DecnetConfig
    const logs = yield* LogRepo
    const root = config.artifactsRoot

    return handlers
      .handle("artifact", ({ path, urlParams }) =>
        Effect.gen(function* () {
          if (!CAPTURING.has(urlParams.service)) return yield* new BadRequest({ detail: "invalid service" })
          if (!DECKY.test(path.decky)) return yield* new BadRequest({ detail: "invalid decky name" })
          if (!STORED_AS.test(path.stored_as)) return yield* new BadRequest({ detail: "invalid stored_as" })
          const candidates = [
            NodePath.join(root, path.decky, urlParams.service, "captured", path.stored_as),
            NodePath.join(root, path.decky, urlParams.service, path.stored_as)
          ]
          if (!candidates.every((c) => within(root, c)))
            return yield* new BadRequest({ detail: "path escapes artifacts root" })
          const found = candidates.flatMap((c) => Option.toArray(realWithin(root, c)))[0]
          const isFile = (file: string) =>
            Option.getOrElse(Option.liftThrowable(() => NodeFs.statSync(file).isFile())(), () => false)
          if (found === undefined || !isFile(found))
            return yield* new NotFound({ detail: "artifact not found" })
          const response = yield* HttpServerResponse.file(found, {
            headers: {
              "content-disposition": `attachment; filename="${path.stored_as}"`,
              "x-content-type-options": "nosniff"
            }
          }).pipe(Effect.mapError(() => new NotFound({ detail: "artifact not found" })))
          // Raw bytes whatever the name says: never a type a browser would render or run.
          return HttpServerResponse.setHeader(response, "content-type", "application/octet-stream")
        })
      )
      .handle("transcript", ({ path, urlParams }) =>
        Effect.gen(function* () {
          if (!DECKY.test(path.decky)) return yield* new BadRequest({ detail: "invalid decky name" })
          if (!SID.test(path.sid)) return yield* new BadRequest({ detail: "invalid sid" })
          const [row] = yield* logs.getLogs({
            eventType: "session_recorded",
            search: `sid:${path.sid}`,
            limit: 1
          })
          if (row === undefined || row.decky !== path.decky)
            return yield* new NotFound({ detail: "session not found" })
          const file = row.fields.path ?? ""
          const real = file === "" ? Option.none() : realWithin(root, file)
          if (Option.isNone(real)) return yield* new NotFound({ detail: "transcript not found" })
          const text = yield* Effect.try(() => NodeFs.readFileSync(real.value, "utf8")).pipe(
            Effect.mapError(() => new NotFound({ detail: "transcript not found" }))
          )
          const cast = parseCast(text)
          if (cast === undefined) return yield* new NotFound({ detail: "transcript not found" })
          const page = cast.events.slice(urlParams.offset, urlParams.offset + urlParams.limit)
          return {
            sid: path.sid,
            service: row.fields.service ?? row.service,
            header: cast.header,
            events: page,
            offset: urlParams.offset,
            limit: urlParams.limit,
            total: cast.events.length,
            has_more: urlParams.offset + page.length < cast.events.length,
            truncated: row.fields.truncated === "true"
          }
        })
      )
  })
)
