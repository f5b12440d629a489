// The `logs` table: every RFC 5424 event line the ingester stores. Writers batch through addLogs
// (one transaction); readers page newest-first or follow ids forward for live tails.
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Schema } from "effect"
import { formatUtc, SqlCount } from "./Columns.js"
import { Dialect } from "./Dialect.js"
import { parseSearch } from "./LogSearch.js"
import { LogEntry, LogRow, type NewLog } from "./Rows.js"

export interface LogFilter {
  readonly search?: string | undefined
  readonly startTime?: Date | undefined
  readonly endTime?: Date | undefined
  /** Exact matches on columns (the CLI's --decky / --service / --event). */
  readonly decky?: string | undefined
  readonly service?: string | undefined
  readonly eventType?: string | undefined
}

// Bound the number of bind parameters per INSERT (SQLite caps them at 32766).
const INSERT_CHUNK = 500

const decodeLogs = Schema.decodeUnknown(Schema.Array(LogRow))
const decodeCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ n: Schema.NullOr(SqlCount) })))
const encodeEntry = Schema.encodeSync(LogEntry)

// The writer's values are already typed events: encoding only renders columns, it cannot fail on them.
const toRow = (log: NewLog) =>
  encodeEntry({
    timestamp: log.timestamp,
    decky: log.decky,
    service: log.service,
    event_type: log.event_type,
    attacker_ip: log.attacker_ip,
    attacker_port: log.attacker_port,
    fields: log.fields,
    msg: log.msg,
    severity: log.severity,
    raw_line: log.raw_line,
    trace_id: log.trace_id ?? null,
    span_id: log.span_id ?? null
  })

export class LogRepo extends Effect.Service<LogRepo>()("decnet/LogRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* Dialect

    const conditions = (filter: LogFilter): Array<Fragment> => {
      const conds: Array<Fragment> = []
      for (const term of parseSearch(filter.search ?? "")) {
        if (term.kind === "column") conds.push(sql`${sql(term.column)} = ${term.value}`)
        else if (term.kind === "field") {
          // the key is already reduced to [A-Za-z0-9_], so it is safe inside the JSON path literal
          const path = `'$.${term.key}'`
          conds.push(
            dialect === "mysql"
              ? sql`JSON_UNQUOTE(JSON_EXTRACT(${sql("fields")}, ${sql.literal(path)})) = ${term.value}`
              : sql`json_extract(${sql("fields")}, ${sql.literal(path)}) = ${term.value}`
          )
        } else {
          const like = `%${term.value}%`
          conds.push(
            sql`(${sql("raw_line")} LIKE ${like} OR ${sql("decky")} LIKE ${like} OR ${sql("service")} LIKE ${like} OR ${sql(
              "attacker_ip"
            )} LIKE ${like})`
          )
        }
      }
      if (filter.decky !== undefined) conds.push(sql`${sql("decky")} = ${filter.decky}`)
      if (filter.service !== undefined) conds.push(sql`${sql("service")} = ${filter.service}`)
      if (filter.eventType !== undefined) conds.push(sql`${sql("event_type")} = ${filter.eventType}`)
      if (filter.startTime !== undefined)
        conds.push(sql`${sql("timestamp")} >= ${formatUtc(filter.startTime)}`)
      if (filter.endTime !== undefined) conds.push(sql`${sql("timestamp")} <= ${formatUtc(filter.endTime)}`)
      return conds
    }
    const where = (conds: ReadonlyArray<Fragment>, extra: ReadonlyArray<Fragment> = []) => {
      const all = [...conds, ...extra]
      return all.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(all)}`
    }

    const addLogs = Effect.fn("LogRepo.addLogs")(function* (logs: ReadonlyArray<NewLog>) {
      if (logs.length === 0) return
      const rows = logs.map(toRow)
      yield* sql
        .withTransaction(
          Effect.forEach(
            Array.from({ length: Math.ceil(rows.length / INSERT_CHUNK) }, (_, i) =>
              rows.slice(i * INSERT_CHUNK, (i + 1) * INSERT_CHUNK)
            ),
            (chunk) => sql`INSERT INTO ${sql("logs")} ${sql.insert(chunk)}`,
            { discard: true }
          )
        )
        .pipe(Effect.orDie)
    })

    const addLog = Effect.fn("LogRepo.addLog")(function* (log: NewLog) {
      yield* sql`INSERT INTO ${sql("logs")} ${sql.insert(toRow(log))}`.pipe(Effect.orDie)
    })

    const getLogs = Effect.fn("LogRepo.getLogs")(function* (
      options: LogFilter & { readonly limit?: number; readonly offset?: number } = {}
    ) {
      const limit = Math.max(0, Math.trunc(options.limit ?? 50))
      const offset = Math.max(0, Math.trunc(options.offset ?? 0))
      return yield* sql`SELECT * FROM ${sql("logs")} ${where(conditions(options))} ORDER BY ${sql(
        "timestamp"
      )} DESC, ${sql("id")} DESC LIMIT ${limit} OFFSET ${offset}`.pipe(
        Effect.flatMap(decodeLogs),
        Effect.orDie
      )
    })

    const getTotalLogs = Effect.fn("LogRepo.getTotalLogs")(function* (filter: LogFilter = {}) {
      const rows = yield* sql`SELECT COUNT(*) AS n FROM ${sql("logs")} ${where(conditions(filter))}`.pipe(
        Effect.flatMap(decodeCount),
        Effect.orDie
      )
      return rows[0]?.n ?? 0
    })

    const getMaxLogId = Effect.fn("LogRepo.getMaxLogId")(function* () {
      const rows = yield* sql`SELECT MAX(${sql("id")}) AS n FROM ${sql("logs")}`.pipe(
        Effect.flatMap(decodeCount),
        Effect.orDie
      )
      return rows[0]?.n ?? 0
    })

    const getLogsAfterId = Effect.fn("LogRepo.getLogsAfterId")(function* (
      lastId: number,
      limit = 500,
      filter: LogFilter = {}
    ) {
      const lim = Math.max(0, Math.trunc(limit))
      return yield* sql`SELECT * FROM ${sql("logs")} ${where(conditions(filter), [
        sql`${sql("id")} > ${lastId}`
      ])} ORDER BY ${sql("id")} ASC LIMIT ${lim}`.pipe(Effect.flatMap(decodeLogs), Effect.orDie)
    })

    /**
     * Non-empty buckets of `intervalMinutes`, oldest first (spec api §7.2): bucket start =
     * floor(epoch / (interval·60)) · interval·60, as `YYYY-MM-DD HH:MM:SS` (naive UTC).
     */
    const histogram = Effect.fn("LogRepo.histogram")(function* (filter: LogFilter, intervalMinutes: number) {
      const width = Math.max(1, Math.trunc(intervalMinutes)) * 60
      // Integer division of the epoch seconds (timestamps are after 1970, so it floors). The width is
      // written into the text: SQLite binds a JS number as REAL, which would divide without flooring.
      const by = sql.literal(String(width))
      const bucket =
        dialect === "mysql"
          ? sql`TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ${sql("timestamp")}) DIV ${by}`
          : sql`CAST(strftime('%s', ${sql("timestamp")}) AS INTEGER) / ${by}`
      const rows = yield* sql`SELECT ${bucket} AS b, COUNT(*) AS n FROM ${sql("logs")} ${where(
        conditions(filter)
      )} GROUP BY b ORDER BY b`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ b: SqlCount, n: SqlCount })))),
        Effect.orDie
      )
      return rows.map((r) => ({ time: formatUtc(new Date(r.b * width * 1000)).slice(0, 19), count: r.n }))
    })

    /** Distinct attacker addresses in `logs` (the stats' unique_attackers). */
    const countAttackers = Effect.fn("LogRepo.countAttackers")(function* () {
      const rows = yield* sql`SELECT COUNT(DISTINCT ${sql("attacker_ip")}) AS n FROM ${sql("logs")}`.pipe(
        Effect.flatMap(decodeCount),
        Effect.orDie
      )
      return rows[0]?.n ?? 0
    })

    return {
      addLog,
      addLogs,
      getLogs,
      getTotalLogs,
      getMaxLogId,
      getLogsAfterId,
      histogram,
      countAttackers
    } as const
  })
}) {}
