// INSERT-or-UPDATE for both dialects: `ON CONFLICT (…) DO UPDATE` on SQLite, `ON DUPLICATE KEY
// UPDATE` on MySQL (which keys off any unique index, so callers pass tables with one natural key).
import type { SqlClient } from "@effect/sql"
import type { DialectName } from "./Dialect.js"
import { quoteIdent } from "./TableDef.js"

/** What repositories bind: better-sqlite3 rejects booleans and Dates, so those are encoded first. */
export type SqlValue = string | number | null

export const upsert = (
  sql: SqlClient.SqlClient,
  dialect: DialectName,
  table: string,
  row: Readonly<Record<string, SqlValue>>,
  conflictColumns: ReadonlyArray<string>
) => {
  const q = (n: string) => quoteIdent(dialect, n)
  const updates = Object.keys(row).filter((c) => !conflictColumns.includes(c))
  const clause =
    dialect === "mysql"
      ? `ON DUPLICATE KEY UPDATE ${updates.map((c) => `${q(c)} = VALUES(${q(c)})`).join(", ")}`
      : `ON CONFLICT (${conflictColumns.map(q).join(", ")}) DO UPDATE SET ${updates
          .map((c) => `${q(c)} = excluded.${q(c)}`)
          .join(", ")}`
  return sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ${sql.literal(clause)}`
}
