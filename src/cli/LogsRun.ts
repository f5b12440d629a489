// The body of `decnet logs`, loaded only when the command runs (it pulls in the database and the bus).
import { Console, Effect, Layer, Schedule, Schema, Stream } from "effect"
import { Bus } from "../bus/Bus.js"
import { BusLive } from "../bus/BusLive.js"
import { NullBusLive } from "../bus/NullBus.js"
import { T } from "../bus/Topics.js"
import { DbLive } from "../db/Client.js"
import { type LogFilter, LogRepo } from "../db/LogRepo.js"
import { MigrationsLive } from "../db/Migrations.js"
import { LogRow } from "../db/Rows.js"
import { neutralizeControls } from "../logging/Rfc5424.js"

export interface LogsRunOptions {
  readonly follow: boolean
  readonly json: boolean
  readonly limit: number
  readonly filter: LogFilter
}

const encodeRow = Schema.encodeSync(LogRow)

/** JSON.stringify leaves DEL, C1 controls and the line separators raw: a terminal must not get them. */
const safeJson = (value: unknown): string =>
  JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

const pad = (n: number, w = 2) => String(n).padStart(w, "0")
const stamp = (d: Date) =>
  `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes()
  )}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`

/** One line a person reads: time, decky, service, event, peer, fields, message; control bytes escaped. */
export const formatRow = (row: LogRow): string => {
  const peer = row.attacker_port === null ? row.attacker_ip : `${row.attacker_ip}:${row.attacker_port}`
  const fields = Object.entries(row.fields)
    .map(([k, v]) => `${k}=${/[\s"]/.test(v) || v === "" ? JSON.stringify(v) : v}`)
    .join(" ")
  const parts = [stamp(row.timestamp), row.decky, row.service, row.event_type, peer, fields, row.msg]
  return neutralizeControls(parts.filter((p) => p !== "").join("  "))
}

/** The bus when one answers, else none: following then polls alone. */
const optionalBus = BusLive({ clientName: "decnet-logs" }).pipe(Layer.catchAll(() => NullBusLive))

export const runLogs = (options: LogsRunOptions) =>
  Effect.gen(function* () {
    const repo = yield* LogRepo
    const newest = yield* repo.getLogs({ ...options.filter, limit: options.limit })
    const rows = [...newest].reverse()
    if (options.json && !options.follow) yield* Console.log(safeJson(rows.map((r) => encodeRow(r))))
    else for (const row of rows) yield* Console.log(options.json ? safeJson(encodeRow(row)) : formatRow(row))
    // Text mode says why there is nothing (on stderr: stdout stays the rows).
    if (rows.length === 0 && !options.json)
      yield* Console.error(
        options.follow
          ? "decnet: no events stored yet; waiting for new ones (Ctrl-C stops)"
          : "decnet: no events match (touch a decky, or widen --since/--decky/--service/--event)"
      )
    if (!options.follow) return
    let last = rows.at(-1)?.id ?? (yield* repo.getMaxLogId())
    const drain = Effect.gen(function* () {
      for (;;) {
        const next = yield* repo.getLogsAfterId(last, 500, options.filter)
        for (const row of next) yield* Console.log(options.json ? safeJson(encodeRow(row)) : formatRow(row))
        const tail = next.at(-1)
        if (tail === undefined) return
        last = tail.id
      }
    })
    const bus = yield* Bus
    const woken = yield* bus.subscribe(T.systemLog).pipe(
      Effect.map((s) => Stream.map(s, () => undefined)),
      Effect.orElseSucceed(() => Stream.empty)
    )
    const ticks = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(Stream.map(() => undefined))
    yield* Stream.merge(woken, ticks).pipe(
      Stream.debounce("50 millis"),
      Stream.runForEach(() => drain)
    )
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(LogRepo.Default, MigrationsLive).pipe(Layer.provideMerge(DbLive))),
    Effect.provide(optionalBus)
  )
