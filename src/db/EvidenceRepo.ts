// Read side of what the ingester stores besides `logs` (spec logging-and-config §5.6): the `bounty` and
// `credentials` pages of the API (newest first, LIKE search), the per-IP counts and the purge of
// `DELETE /config/reinit`.
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Schema } from "effect"
import { JsonText, SqlCount, UtcDateTime } from "./Columns.js"

/** A `bounty` row; `payload` decoded when it is JSON (it always is when the ingester wrote it). */
export const BountyRecord = Schema.Struct({
  id: Schema.Number,
  timestamp: UtcDateTime,
  decky: Schema.String,
  service: Schema.String,
  attacker_ip: Schema.String,
  bounty_type: Schema.String,
  payload: Schema.String
})

/** A `credentials` row with `fields` decoded. */
export const CredentialRecord = Schema.Struct({
  id: Schema.Number,
  attacker_ip: Schema.String,
  attacker_uuid: Schema.NullOr(Schema.String),
  decky_name: Schema.String,
  service: Schema.String,
  principal: Schema.NullOr(Schema.String),
  principal_key: Schema.String,
  secret_kind: Schema.String,
  secret_sha256: Schema.String,
  secret_b64: Schema.NullOr(Schema.String),
  secret_printable: Schema.NullOr(Schema.String),
  outcome: Schema.NullOr(Schema.String),
  fields: JsonText,
  first_seen: UtcDateTime,
  last_seen: UtcDateTime,
  attempt_count: Schema.Number
})

const decodeBounties = Schema.decodeUnknown(Schema.Array(BountyRecord))
const decodeCredentials = Schema.decodeUnknown(Schema.Array(CredentialRecord))
const decodeCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ n: Schema.NullOr(SqlCount) })))

export interface BountyFilter {
  readonly bountyType?: string | undefined
  readonly search?: string | undefined
}

export interface CredentialFilter {
  readonly search?: string | undefined
  readonly service?: string | undefined
  readonly attackerIp?: string | undefined
}

export interface PageOptions {
  readonly limit: number
  readonly offset: number
}

export class EvidenceRepo extends Effect.Service<EvidenceRepo>()("decnet/EvidenceRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const where = (conds: ReadonlyArray<Fragment>) =>
      conds.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(conds)}`
    const like = (columns: ReadonlyArray<string>, text: string) => {
      const pattern = `%${text}%`
      return sql.or(columns.map((c) => sql`${sql(c)} LIKE ${pattern}`))
    }
    const count = (rows: ReadonlyArray<{ readonly n: number | null }>) => rows[0]?.n ?? 0

    const bountyConds = (f: BountyFilter) => {
      const conds: Array<Fragment> = []
      if (f.bountyType !== undefined) conds.push(sql`${sql("bounty_type")} = ${f.bountyType}`)
      if (f.search !== undefined) conds.push(like(["decky", "service", "attacker_ip", "payload"], f.search))
      return conds
    }

    const credentialConds = (f: CredentialFilter) => {
      const conds: Array<Fragment> = []
      if (f.service !== undefined) conds.push(sql`${sql("service")} = ${f.service}`)
      if (f.attackerIp !== undefined) conds.push(sql`${sql("attacker_ip")} = ${f.attackerIp}`)
      if (f.search !== undefined)
        conds.push(like(["decky_name", "service", "principal", "secret_printable"], f.search))
      return conds
    }

    const bounties = Effect.fn("EvidenceRepo.bounties")(function* (f: BountyFilter, page: PageOptions) {
      const conds = bountyConds(f)
      const rows =
        yield* sql`SELECT * FROM ${sql("bounty")} ${where(conds)} ORDER BY ${sql("timestamp")} DESC, ${sql(
          "id"
        )} DESC LIMIT ${page.limit} OFFSET ${page.offset}`.pipe(Effect.flatMap(decodeBounties), Effect.orDie)
      const total = yield* sql`SELECT COUNT(*) AS n FROM ${sql("bounty")} ${where(conds)}`.pipe(
        Effect.flatMap(decodeCount),
        Effect.map(count),
        Effect.orDie
      )
      return { total, rows }
    })

    const credentials = Effect.fn("EvidenceRepo.credentials")(function* (
      f: CredentialFilter,
      page: PageOptions
    ) {
      const conds = credentialConds(f)
      const rows = yield* sql`SELECT * FROM ${sql("credentials")} ${where(conds)} ORDER BY ${sql(
        "last_seen"
      )} DESC, ${sql("id")} DESC LIMIT ${page.limit} OFFSET ${page.offset}`.pipe(
        Effect.flatMap(decodeCredentials),
        Effect.orDie
      )
      const total = yield* sql`SELECT COUNT(*) AS n FROM ${sql("credentials")} ${where(conds)}`.pipe(
        Effect.flatMap(decodeCount),
        Effect.map(count),
        Effect.orDie
      )
      return { total, rows }
    })

    /** Delete every logs, bounty, credentials, attacker_behavior and attackers row; the counts deleted. */
    const purge = Effect.fn("EvidenceRepo.purge")(function* () {
      const countOf = (table: string) =>
        sql`SELECT COUNT(*) AS n FROM ${sql(table)}`.pipe(Effect.flatMap(decodeCount), Effect.map(count))
      return yield* sql
        .withTransaction(
          Effect.gen(function* () {
            const deleted = {
              logs: yield* countOf("logs"),
              bounties: yield* countOf("bounty"),
              credentials: yield* countOf("credentials"),
              attackers: yield* countOf("attackers")
            }
            for (const table of ["logs", "bounty", "credentials", "attacker_behavior", "attackers"])
              yield* sql`DELETE FROM ${sql(table)}`
            return deleted
          })
        )
        .pipe(Effect.orDie)
    })

    return { bounties, credentials, purge } as const
  })
}) {}
