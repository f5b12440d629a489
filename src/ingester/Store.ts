/**
 * The ingester's writes, one transaction per batch: the `logs` rows, the credentials (upserted on
 * `uq_credentials_dedup`), the new bounties (de-duplicated on type, address and payload text, spec
 * logging-and-config §5.6) and the cursor. Because the cursor commits with the rows, a crash anywhere
 * leaves the database before or after the whole batch, never between. The cursor read inside the
 * transaction (locked on MySQL) must still be the one this ingester last wrote: a second ingester on the
 * same database and file makes the other's batch fail instead of storing every line twice.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Data, Effect, Option, Schema } from "effect"
import type { EvidenceRecord } from "../collector/Record.js"
import { formatUtc } from "../db/Columns.js"
import { Dialect } from "../db/Dialect.js"
import { quoteIdent } from "../db/TableDef.js"
import { type SqlValue, upsert } from "../db/Upsert.js"
import type { CapturedCredential, NewBounty } from "./Bounty.js"
import { INGEST_STATE_KEY, IngestCursor, samePlace } from "./Cursor.js"
import { LOG_ROW_COLUMNS, pushLogRowValues } from "./Rows.js"

/** Someone else moved the cursor since this ingester last wrote it. */
export class IngestCursorConflict extends Data.TaggedError("IngestCursorConflict")<{
  readonly expected: IngestCursor | undefined
  readonly found: IngestCursor | undefined
}> {
  override get message(): string {
    return `the ingest cursor moved under this ingester (expected ${JSON.stringify(this.expected)}, found ${JSON.stringify(
      this.found
    )}): is another ingester reading the same file into the same database?`
  }
}

export interface IngestBatch {
  readonly logs: ReadonlyArray<EvidenceRecord>
  readonly credentials: ReadonlyArray<CapturedCredential>
  readonly bounties: ReadonlyArray<NewBounty>
  /** The cursor as this ingester last read or wrote it (undefined: there was none). */
  readonly expected: IngestCursor | undefined
  /** The cursor after this batch. */
  readonly next: IngestCursor
}

export interface IngestCommitted {
  /** Distinct credentials upserted (each sighting counted in attempt_count). */
  readonly credentials: ReadonlyArray<CapturedCredential>
  /** Bounty rows inserted (the rest already existed). */
  readonly bounties: number
}

const CursorRows = Schema.Array(Schema.Struct({ value: Schema.parseJson(IngestCursor) }))
const decodeCursorRows = Schema.decodeUnknown(CursorRows)
const encodeCursorText = Schema.encodeSync(Schema.parseJson(IngestCursor))
// A batch's `next` is the following batch's `expected`: each cursor is encoded once, not twice per batch.
const cursorTexts = new WeakMap<IngestCursor, string>()
const encodeCursor = (cursor: IngestCursor): string => {
  let text = cursorTexts.get(cursor)
  if (text === undefined) {
    text = encodeCursorText(cursor)
    cursorTexts.set(cursor, text)
  }
  return text
}
const PayloadRows = Schema.Array(
  Schema.Struct({ bounty_type: Schema.String, attacker_ip: Schema.String, payload: Schema.String })
)
const decodePayloadRows = Schema.decodeUnknown(PayloadRows)

// Rows per INSERT, bounded by SQLite's 32766 bind parameters (12 columns a log row, 14 a credential).
const LOG_CHUNK = 500
const CREDENTIAL_CHUNK = 200
const BOUNTY_CHUNK = 500

const chunks = <A>(items: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

const credentialKey = (c: CapturedCredential) =>
  `${c.attacker_ip}\u0000${c.decky_name}\u0000${c.service}\u0000${c.secret_kind}\u0000${c.secret_sha256}\u0000${c.principal_key}`

interface CredentialGroup {
  readonly first: CapturedCredential
  firstSeen: Date
  lastSeen: Date
  attempts: number
  outcome: string | null
}

/**
 * One row per dedup key, as if the sightings had been upserted one by one: the first sighting's
 * fields, the earliest and latest times, the attempts summed, the last outcome given.
 */
export const groupCredentials = (
  credentials: ReadonlyArray<CapturedCredential>
): ReadonlyArray<CredentialGroup> => {
  const groups = new Map<string, CredentialGroup>()
  for (const c of credentials) {
    const key = credentialKey(c)
    const g = groups.get(key)
    if (g === undefined) {
      groups.set(key, {
        first: c,
        firstSeen: c.timestamp,
        lastSeen: c.timestamp,
        attempts: c.attempts,
        outcome: c.outcome
      })
      continue
    }
    if (c.timestamp < g.firstSeen) g.firstSeen = c.timestamp
    if (c.timestamp > g.lastSeen) g.lastSeen = c.timestamp
    g.attempts += c.attempts
    if (c.outcome !== null) g.outcome = c.outcome
  }
  return [...groups.values()]
}

/** The bounty's de-duplication key: type, address, and the payload's JSON text. */
export const bountyText = (b: NewBounty): string => JSON.stringify(b.payload)

export class IngestStore extends Effect.Service<IngestStore>()("decnet/IngestStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* Dialect
    const q = (name: string) => quoteIdent(dialect, name)

    const readCursor = (lock: boolean) =>
      sql`SELECT ${sql("value")} FROM ${sql("state")} WHERE ${sql("key")} = ${INGEST_STATE_KEY}${sql.literal(
        lock && dialect === "mysql" ? " FOR UPDATE" : ""
      )}`.pipe(
        Effect.flatMap(decodeCursorRows),
        Effect.map((rows) => Option.fromNullable(rows[0]?.value))
      )

    const writeCursor = (cursor: IngestCursor) =>
      upsert(sql, dialect, "state", { key: INGEST_STATE_KEY, value: encodeCursor(cursor) }, ["key"])

    /**
     * SQLite: move the cursor from `expected` to `next` in one statement when the stored text is exactly
     * the one this ingester wrote (true), instead of a read and a write per batch. Anything else (no row,
     * another ingester's cursor, a text written some other way) returns false and the caller takes the
     * read-compare-write path, which decides as before.
     */
    // Its text built once: a template statement is compiled again on every call, once a batch.
    const swapText = `UPDATE ${q("state")} SET ${q("value")} = ? WHERE ${q("key")} = ? AND ${q("value")} = ? RETURNING ${q("key")}`
    const swapCursor = (expected: IngestCursor, next: IngestCursor) =>
      dialect === "sqlite"
        ? Effect.map(
            sql.unsafe(swapText, [encodeCursor(next), INGEST_STATE_KEY, encodeCursor(expected)]),
            (rows) => rows.length === 1
          )
        : Effect.succeed(false)

    const credentialConflict =
      dialect === "mysql"
        ? `ON DUPLICATE KEY UPDATE ${q("attempt_count")} = ${q("attempt_count")} + VALUES(${q(
            "attempt_count"
          )}), ${q("last_seen")} = GREATEST(${q("last_seen")}, VALUES(${q("last_seen")})), ${q(
            "outcome"
          )} = COALESCE(VALUES(${q("outcome")}), ${q("outcome")})`
        : `ON CONFLICT (${[
            "attacker_ip",
            "decky_name",
            "service",
            "secret_kind",
            "secret_sha256",
            "principal_key"
          ]
            .map(q)
            .join(", ")}) DO UPDATE SET ${q("attempt_count")} = ${q("credentials")}.${q(
            "attempt_count"
          )} + excluded.${q("attempt_count")}, ${q("last_seen")} = MAX(${q("credentials")}.${q(
            "last_seen"
          )}, excluded.${q("last_seen")}), ${q("outcome")} = COALESCE(excluded.${q("outcome")}, ${q(
            "credentials"
          )}.${q("outcome")})`

    // LogRepo.addLogs's insert, the rows' values bound directly (Rows.ts): this is the ingester's hot path.
    // The statement text depends only on the row count, so it is built once per count and the driver's
    // prepared-statement cache finds it again (sql.insert would build and hash a new one per batch).
    const logsHead = `INSERT INTO ${q("logs")} (${LOG_ROW_COLUMNS.map(q).join(", ")}) VALUES `
    const logsTuple = `(${LOG_ROW_COLUMNS.map(() => "?").join(", ")})`
    const logsText = new Map<number, string>()
    const logsInsert = (rows: number) => {
      let text = logsText.get(rows)
      if (text === undefined) {
        text = logsHead + Array.from({ length: rows }, () => logsTuple).join(", ")
        logsText.set(rows, text)
      }
      return text
    }
    const insertLogs = (records: ReadonlyArray<EvidenceRecord>) =>
      Effect.forEach(
        chunks(records, LOG_CHUNK),
        (chunk) => {
          const values: Array<SqlValue> = []
          for (const r of chunk) pushLogRowValues(r, values)
          return sql.unsafe(logsInsert(chunk.length), values)
        },
        { discard: true }
      )

    const upsertCredentials = (groups: ReadonlyArray<CredentialGroup>) =>
      Effect.forEach(
        chunks(groups, CREDENTIAL_CHUNK),
        (chunk) =>
          sql`INSERT INTO ${sql("credentials")} ${sql.insert(
            chunk.map((g) => ({
              attacker_ip: g.first.attacker_ip,
              decky_name: g.first.decky_name,
              service: g.first.service,
              principal: g.first.principal,
              principal_key: g.first.principal_key,
              secret_kind: g.first.secret_kind,
              secret_sha256: g.first.secret_sha256,
              secret_b64: g.first.secret_b64,
              secret_printable: g.first.secret_printable,
              outcome: g.outcome,
              fields: g.first.fields,
              first_seen: formatUtc(g.firstSeen),
              last_seen: formatUtc(g.lastSeen),
              attempt_count: g.attempts
            }))
          )} ${sql.literal(credentialConflict)}`,
        { discard: true }
      )

    /** Insert the bounties no row has yet (same type, address and payload text); returns how many. */
    const insertBounties = (bounties: ReadonlyArray<NewBounty>) =>
      Effect.gen(function* () {
        // Distinct in the batch first (the earliest sighting wins), grouped by (type, address).
        const groups = new Map<string, Map<string, NewBounty>>()
        for (const b of bounties) {
          const gk = `${b.bounty_type}\u0000${b.attacker_ip}`
          let g = groups.get(gk)
          if (g === undefined) groups.set(gk, (g = new Map()))
          const text = bountyText(b)
          if (!g.has(text)) g.set(text, b)
        }
        const fresh: Array<{ readonly bounty: NewBounty; readonly text: string }> = []
        for (const g of groups.values()) {
          const texts = [...g.keys()]
          const sample = g.values().next().value
          if (sample === undefined) continue
          const existing = new Set<string>()
          for (const part of chunks(texts, BOUNTY_CHUNK)) {
            // Compared again here, exactly: MySQL's default collation calls "Curl" and "curl" equal.
            const rows: typeof PayloadRows.Type =
              yield* sql`SELECT ${sql("bounty_type")}, ${sql("attacker_ip")}, ${sql("payload")} FROM ${sql(
                "bounty"
              )} WHERE ${sql("attacker_ip")} = ${sample.attacker_ip} AND ${sql("bounty_type")} = ${
                sample.bounty_type
              } AND ${sql.in("payload", part)}`.pipe(Effect.flatMap(decodePayloadRows))
            for (const r of rows)
              if (r.attacker_ip === sample.attacker_ip && r.bounty_type === sample.bounty_type)
                existing.add(r.payload)
          }
          for (const [text, bounty] of g) if (!existing.has(text)) fresh.push({ bounty, text })
        }
        yield* Effect.forEach(
          chunks(fresh, BOUNTY_CHUNK),
          (chunk) =>
            sql`INSERT INTO ${sql("bounty")} ${sql.insert(
              chunk.map(({ bounty, text }) => ({
                timestamp: formatUtc(bounty.timestamp),
                decky: bounty.decky,
                service: bounty.service,
                attacker_ip: bounty.attacker_ip,
                bounty_type: bounty.bounty_type,
                payload: text
              }))
            )}`,
          { discard: true }
        )
        return fresh.length
      })

    /** The stored cursor, if any. */
    const load = Effect.fn("IngestStore.load")(function* () {
      return yield* readCursor(false).pipe(Effect.orDie)
    })

    const commitBatch = (batch: IngestBatch) =>
      Effect.gen(function* () {
        // The rows first: on SQLite the first write takes the write lock, so the cursor read below
        // sees the latest commit of any other process.
        if (batch.logs.length > 0) yield* insertLogs(batch.logs)
        const swapped = batch.expected !== undefined && (yield* swapCursor(batch.expected, batch.next))
        if (!swapped) {
          const found = Option.getOrUndefined(yield* readCursor(true))
          const same =
            found === undefined || batch.expected === undefined
              ? found === batch.expected
              : samePlace(found, batch.expected)
          if (!same) return yield* new IngestCursorConflict({ expected: batch.expected, found })
        }
        const groups = groupCredentials(batch.credentials)
        if (groups.length > 0) yield* upsertCredentials(groups)
        const bounties = batch.bounties.length > 0 ? yield* insertBounties(batch.bounties) : 0
        if (!swapped) yield* writeCursor(batch.next)
        return { credentials: groups.map((g) => g.first), bounties } satisfies IngestCommitted
      })

    /**
     * Write one batch and its cursor, atomically. No span of its own: it runs once a batch on the hot path,
     * inside the caller's (`Ingester.commit`), and the transaction has its `sql.transaction` span.
     */
    const commit = (batch: IngestBatch): Effect.Effect<IngestCommitted, IngestCursorConflict> =>
      sql.withTransaction(commitBatch(batch)).pipe(
        Effect.catchTags({
          SqlError: (e: SqlError) => Effect.die(e),
          ParseError: (e) => Effect.die(e)
        })
      )

    return { load, commit } as const
  })
}) {}
