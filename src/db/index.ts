// Public surface of the database layer: the config-chosen SqlClient layers, the Dialect, schema
// migrations, the typed errors, the row Schemas and the repositories.
export { DbLive, MysqlLive, SqliteLive, mysqlUrlConfig, sqlitePathConfig } from "./Client.js"
export { SqlBool, SqlCount, UtcDateTime, JsonText, formatUtc } from "./Columns.js"
export {
  DbConfigError,
  DbConnectionError,
  DbConstraintError,
  DbMigrationError,
  isUniqueViolation,
  narrowConstraint
} from "./DbError.js"
export { Dialect, type DialectName } from "./Dialect.js"
export { FleetRepo, LOCAL_HOST } from "./FleetRepo.js"
export { LogRepo, type LogFilter } from "./LogRepo.js"
export { parseSearch, type SearchTerm } from "./LogSearch.js"
export { MIGRATIONS_TABLE, MigrationsLive, SCHEMA_LOCK, baselineStatements, migrate } from "./Migrations.js"
export { FleetDecky, FleetDeckyInput, LogEntry, LogRow, type NewLog, User } from "./Rows.js"
export { StateRepo } from "./StateRepo.js"
export { tables } from "./Tables.js"
export { quoteIdent, renderAddColumn, renderTable, type ColumnDef, type TableDef } from "./TableDef.js"
export { upsert, type SqlValue } from "./Upsert.js"
export { UserRepo, type NewUser } from "./UserRepo.js"
