// The shape of a table definition, plus the renderer that turns one into DDL for a dialect.
// Keeping the schema as data is what lets one migration serve SQLite and MySQL alike.
import type { DialectName } from "./Dialect.js"

export type ColumnType =
  | "str"
  | `str(${number})`
  | "text"
  | "mediumtext"
  | "int"
  | "float"
  | "bool"
  | "datetime"
  | "json"
  | "bytes8"

export type ColumnDefault =
  | { readonly kind: "now" }
  | { readonly kind: "uuid" }
  | { readonly kind: "literal"; readonly value: string | number | boolean }

export interface ColumnDef {
  readonly name: string
  readonly type: ColumnType
  readonly nullable: boolean
  readonly pk?: boolean
  readonly fk?: string
  readonly default?: ColumnDefault
}

export interface IndexDef {
  readonly name: string
  readonly columns: ReadonlyArray<string>
  readonly unique: boolean
}

export interface TableDef {
  readonly name: string
  readonly columns: ReadonlyArray<ColumnDef>
  /** single-column non-unique indexes, named ix_<table>_<col> */
  readonly indexed: ReadonlyArray<string>
  readonly indexes: ReadonlyArray<IndexDef>
  readonly uniques: ReadonlyArray<{ readonly name: string; readonly columns: ReadonlyArray<string> }>
}

export const quoteIdent = (dialect: DialectName, name: string): string =>
  dialect === "mysql" ? `\`${name.replace(/`/g, "``")}\`` : `"${name.replace(/"/g, '""')}"`

const columnType = (dialect: DialectName, type: ColumnType): string => {
  const my = dialect === "mysql"
  const sized = /^str\((\d+)\)$/.exec(type)
  if (sized) return `VARCHAR(${sized[1]})`
  switch (type) {
    case "str":
      return my ? "VARCHAR(255)" : "VARCHAR"
    case "text":
      return "TEXT"
    case "mediumtext":
      return my ? "MEDIUMTEXT" : "TEXT"
    case "int":
      return "INTEGER"
    case "float":
      return my ? "DOUBLE" : "FLOAT"
    case "bool":
      return "BOOLEAN"
    case "datetime":
      // microseconds on MySQL so ordering by timestamp keeps sub-second order, as SQLite text does
      return my ? "DATETIME(6)" : "DATETIME"
    case "json":
      return my ? "JSON" : "TEXT"
    case "bytes8":
      return my ? "BINARY(8)" : "BLOB"
    default:
      return "TEXT"
  }
}

// MySQL refuses literal defaults on TEXT/BLOB/JSON, so those stay client-side (as in the spec,
// where every default is applied by the application anyway).
const literalDefault = (dialect: DialectName, col: ColumnDef): string | undefined => {
  if (col.default?.kind !== "literal") return undefined
  if (dialect === "mysql" && ["text", "mediumtext", "json", "bytes8"].includes(col.type)) return undefined
  const v = col.default.value
  if (typeof v === "boolean") return v ? "1" : "0"
  if (typeof v === "number") return String(v)
  return `'${v.replace(/'/g, "''")}'`
}

const isAutoIncrement = (table: TableDef, col: ColumnDef): boolean =>
  col.pk === true && col.type === "int" && table.columns.filter((c) => c.pk).length === 1

/** `ALTER TABLE … ADD COLUMN …` for a column added to an existing table by a later migration. */
export const renderAddColumn = (dialect: DialectName, table: string, col: ColumnDef): string => {
  const def = literalDefault(dialect, col)
  return `ALTER TABLE ${quoteIdent(dialect, table)} ADD COLUMN ${quoteIdent(dialect, col.name)} ${columnType(
    dialect,
    col.type
  )}${col.nullable ? " NULL" : " NOT NULL"}${def === undefined ? "" : ` DEFAULT ${def}`}`
}

/** CREATE TABLE IF NOT EXISTS plus every index, in creation order. */
export const renderTable = (dialect: DialectName, table: TableDef): ReadonlyArray<string> => {
  const q = (n: string) => quoteIdent(dialect, n)
  const lines: Array<string> = []
  const pks = table.columns.filter((c) => c.pk)
  for (const col of table.columns) {
    if (isAutoIncrement(table, col)) {
      lines.push(
        dialect === "mysql"
          ? `${q(col.name)} INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY`
          : `${q(col.name)} INTEGER PRIMARY KEY AUTOINCREMENT`
      )
      continue
    }
    const def = literalDefault(dialect, col)
    lines.push(
      `${q(col.name)} ${columnType(dialect, col.type)}${col.nullable ? " NULL" : " NOT NULL"}${
        def === undefined ? "" : ` DEFAULT ${def}`
      }`
    )
  }
  if (!(pks.length === 1 && pks[0] !== undefined && isAutoIncrement(table, pks[0]))) {
    lines.push(`PRIMARY KEY (${pks.map((c) => q(c.name)).join(", ")})`)
  }
  for (const u of table.uniques) {
    lines.push(`CONSTRAINT ${q(u.name)} UNIQUE (${u.columns.map(q).join(", ")})`)
  }
  for (const col of table.columns) {
    if (col.fk === undefined) continue
    const [refTable, refCol] = col.fk.split(".")
    lines.push(`FOREIGN KEY (${q(col.name)}) REFERENCES ${q(refTable ?? "")} (${q(refCol ?? "")})`)
  }
  const tail = dialect === "mysql" ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" : ""
  const stmts = [`CREATE TABLE IF NOT EXISTS ${q(table.name)} (\n  ${lines.join(",\n  ")}\n)${tail}`]
  for (const col of table.indexed) {
    stmts.push(`CREATE INDEX IF NOT EXISTS ${q(`ix_${table.name}_${col}`)} ON ${q(table.name)} (${q(col)})`)
  }
  for (const ix of table.indexes) stmts.push(renderIndex(dialect, table.name, ix))
  return stmts
}

/** `CREATE [UNIQUE] INDEX IF NOT EXISTS …`, for the baseline and for an index a later migration adds. */
export const renderIndex = (dialect: DialectName, table: string, ix: IndexDef): string => {
  const q = (n: string) => quoteIdent(dialect, n)
  return `CREATE ${ix.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${q(ix.name)} ON ${q(table)} (${ix.columns
    .map(q)
    .join(", ")})`
}
