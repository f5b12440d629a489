// Which SQL dialect the live SqlClient speaks. Code that must write different SQL for SQLite and
// MySQL/MariaDB (DDL types, upserts, JSON access) asks this service instead of sniffing the driver.
import { Context, Layer } from "effect"

export type DialectName = "sqlite" | "mysql"

export class Dialect extends Context.Tag("decnet/Dialect")<Dialect, DialectName>() {
  static readonly Sqlite = Layer.succeed(Dialect, "sqlite")
  static readonly Mysql = Layer.succeed(Dialect, "mysql")
}
