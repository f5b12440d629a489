// Typed database failures that callers are expected to handle. Everything else a driver can throw
// (lost connection, syntax error) is an infrastructure fault and becomes a defect at the repo boundary.

import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schema } from "effect"

/** A UNIQUE or PRIMARY KEY constraint rejected the write. */
export class DbConstraintError extends Schema.TaggedError<DbConstraintError>()("DbConstraintError", {
  table: Schema.String,
  message: Schema.String
}) {}

/** Schema setup failed (migration error, advisory lock not obtained). */
export class DbMigrationError extends Schema.TaggedError<DbMigrationError>()("DbMigrationError", {
  message: Schema.String
}) {}

/** The database could not be opened or reached (file unwritable, server down, bad credentials). */
export class DbConnectionError extends Schema.TaggedError<DbConnectionError>()("DbConnectionError", {
  message: Schema.String
}) {}

/** The DB config is invalid (unknown DECNET_DB_TYPE, empty MySQL password outside tests). */
export class DbConfigError extends Schema.TaggedError<DbConfigError>()("DbConfigError", {
  key: Schema.String,
  message: Schema.String
}) {}

const driverCode = (u: unknown): string | undefined => {
  if (typeof u !== "object" || u === null) return undefined
  const code = "code" in u ? u.code : undefined
  return typeof code === "string" ? code : undefined
}

const driverMessage = (u: unknown): string =>
  typeof u === "object" && u !== null && "message" in u && typeof u.message === "string"
    ? u.message
    : String(u)

/** True when the SqlError is a uniqueness violation on either backend. */
export const isUniqueViolation = (e: SqlError): boolean => {
  const code = driverCode(e.cause)
  return (
    code === "ER_DUP_ENTRY" ||
    code === "SQLITE_CONSTRAINT_UNIQUE" ||
    code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    /UNIQUE constraint failed|Duplicate entry/.test(driverMessage(e.cause))
  )
}

/** True when a FOREIGN KEY constraint rejected the write (a missing parent, or a parent still referenced). */
export const isForeignKeyViolation = (e: SqlError): boolean => {
  const code = driverCode(e.cause)
  return (
    code === "SQLITE_CONSTRAINT_FOREIGNKEY" ||
    code === "ER_NO_REFERENCED_ROW_2" ||
    code === "ER_ROW_IS_REFERENCED_2" ||
    /FOREIGN KEY constraint failed|a foreign key constraint fails/.test(driverMessage(e.cause))
  )
}

/**
 * True when the statement lost a lock race, so the transaction can be rolled back and run again whole: an
 * InnoDB deadlock victim (InnoDB has already rolled its transaction back), an InnoDB lock-wait timeout, or
 * SQLite still busy after busy_timeout.
 */
export const isLockConflict = (e: SqlError): boolean => {
  const code = driverCode(e.cause)
  return (
    code === "ER_LOCK_DEADLOCK" || code === "ER_LOCK_WAIT_TIMEOUT" || code?.startsWith("SQLITE_BUSY") === true
  )
}

/** Narrow a write's SqlError: uniqueness → DbConstraintError, anything else dies. */
export const narrowConstraint =
  (table: string) =>
  <A, R>(self: Effect.Effect<A, SqlError, R>): Effect.Effect<A, DbConstraintError, R> =>
    self.pipe(
      Effect.catchTag("SqlError", (e) =>
        isUniqueViolation(e)
          ? Effect.fail(new DbConstraintError({ table, message: driverMessage(e.cause) }))
          : Effect.die(e)
      )
    )
