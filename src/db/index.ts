// Public surface of the database layer: the config-chosen SqlClient layers, the Dialect, schema
// migrations, the typed errors, the row Schemas and the repositories.
export { DbLive, MysqlLive, mysqlUrlConfig, SqliteLive, sqlitePathConfig } from "./Client.js"
export { formatUtc, JsonText, SqlBool, SqlCount, UtcDateTime } from "./Columns.js"
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
export { type LogFilter, LogRepo } from "./LogRepo.js"
export { parseSearch, type SearchTerm } from "./LogSearch.js"
export { baselineStatements, MIGRATIONS_TABLE, MigrationsLive, migrate, SCHEMA_LOCK } from "./Migrations.js"
export { FleetDecky, FleetDeckyInput, LogEntry, LogRow, type NewLog, User } from "./Rows.js"
export { StateRepo } from "./StateRepo.js"
export {
  fleetTarpitKey,
  TarpitRepo,
  TarpitRule,
  topologyTarpitKey,
  topologyTarpitPrefix
} from "./TarpitRepo.js"
export { type ColumnDef, quoteIdent, renderAddColumn, renderTable, type TableDef } from "./TableDef.js"
export { tables } from "./Tables.js"
export { type SqlValue, upsert } from "./Upsert.js"
export { type NewUser, UserRepo } from "./UserRepo.js"
