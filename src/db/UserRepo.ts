// Dashboard/API users (`users` table). Passwords live only as bcrypt hashes; ensureAdmin is the
// admin bootstrap of spec §5.2 step 2, re-syncing the hash while the admin has not chosen one.

import { randomUUID } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { Effect, Option, type Redacted, Schema } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { formatUtc } from "./Columns.js"
import { narrowConstraint } from "./DbError.js"
import { inThreadHasher, PasswordHasher } from "./Passwords.js"
import { User } from "./Rows.js"

export interface NewUser {
  readonly uuid?: string
  readonly username: string
  readonly passwordHash: string
  readonly role?: string
  readonly mustChangePassword?: boolean
}

const decodeUsers = Schema.decodeUnknown(Schema.Array(User))

export class UserRepo extends Effect.Service<UserRepo>()("decnet/UserRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { bcryptRounds: rounds } = yield* DecnetConfig

    // Worker threads when the process provides them (the API), else bcryptjs's async form in-thread.
    const hasher = Option.getOrElse(yield* Effect.serviceOption(PasswordHasher), () => inThreadHasher)
    const hashPassword = Effect.fn("UserRepo.hashPassword")((password: Redacted.Redacted) =>
      hasher.hash(password, rounds)
    )
    const verifyPassword = Effect.fn("UserRepo.verifyPassword")((password: Redacted.Redacted, hash: string) =>
      hasher.verify(password, hash)
    )

    const selectWhere = (column: "username" | "uuid", value: string) =>
      sql`SELECT * FROM ${sql("users")} WHERE ${sql(column)} = ${value}`.pipe(
        Effect.flatMap(decodeUsers),
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.orDie
      )

    const create = Effect.fn("UserRepo.create")(function* (input: NewUser) {
      const uuid = input.uuid ?? randomUUID()
      yield* sql`INSERT INTO ${sql("users")} ${sql.insert({
        uuid,
        username: input.username,
        password_hash: input.passwordHash,
        role: input.role ?? "viewer",
        must_change_password: input.mustChangePassword === true ? 1 : 0
      })}`.pipe(narrowConstraint("users"))
      return uuid
    })

    const getByUsername = Effect.fn("UserRepo.getByUsername")((username: string) =>
      selectWhere("username", username)
    )
    const getByUuid = Effect.fn("UserRepo.getByUuid")((uuid: string) => selectWhere("uuid", uuid))

    const list = Effect.fn("UserRepo.list")(function* () {
      return yield* sql`SELECT * FROM ${sql("users")} ORDER BY ${sql("username")}`.pipe(
        Effect.flatMap(decodeUsers),
        Effect.orDie
      )
    })

    const updatePassword = Effect.fn("UserRepo.updatePassword")(function* (
      uuid: string,
      passwordHash: string,
      mustChangePassword = false
    ) {
      yield* sql`UPDATE ${sql("users")} SET ${sql.update({
        password_hash: passwordHash,
        must_change_password: mustChangePassword ? 1 : 0
      })} WHERE ${sql("uuid")} = ${uuid}`.pipe(Effect.orDie)
    })

    const updateRole = Effect.fn("UserRepo.updateRole")(function* (uuid: string, role: string) {
      yield* sql`UPDATE ${sql("users")} SET ${sql("role")} = ${role} WHERE ${sql("uuid")} = ${uuid}`.pipe(
        Effect.orDie
      )
    })

    const setTokensValidFrom = Effect.fn("UserRepo.setTokensValidFrom")(function* (uuid: string, ts: Date) {
      yield* sql`UPDATE ${sql("users")} SET ${sql("tokens_valid_from")} = ${formatUtc(ts)} WHERE ${sql(
        "uuid"
      )} = ${uuid}`.pipe(Effect.orDie)
    })

    /** true when a row was deleted. */
    const remove = Effect.fn("UserRepo.delete")(function* (uuid: string) {
      // Read, then one DELETE (no read-then-write transaction: see FleetRepo.delete).
      const before = yield* selectWhere("uuid", uuid)
      if (Option.isNone(before)) return false
      yield* sql`DELETE FROM ${sql("users")} WHERE ${sql("uuid")} = ${uuid}`.pipe(Effect.orDie)
      return true
    })

    /**
     * Spec §5.2 step 2: create the admin with must_change_password=true, or, while that flag is
     * still set, re-sync its hash from the configured password. Returns the admin row.
     */
    const ensureAdmin = Effect.fn("UserRepo.ensureAdmin")(function* (
      username: string,
      password: Redacted.Redacted
    ) {
      const existing = yield* getByUsername(username)
      if (Option.isNone(existing)) {
        const passwordHash = yield* hashPassword(password)
        // A concurrent starter may win the insert; the unique username makes that a re-read.
        yield* create({ username, passwordHash, role: "admin", mustChangePassword: true }).pipe(
          Effect.catchTag("DbConstraintError", () => Effect.void)
        )
      } else if (existing.value.must_change_password) {
        const same = yield* verifyPassword(password, existing.value.password_hash)
        if (!same) yield* updatePassword(existing.value.uuid, yield* hashPassword(password), true)
      }
      return yield* getByUsername(username).pipe(
        Effect.flatMap(
          Effect.orElse(() => Effect.dieMessage(`admin user ${username} vanished during bootstrap`))
        )
      )
    })

    return {
      create,
      getByUsername,
      getByUuid,
      list,
      updatePassword,
      updateRole,
      setTokensValidFrom,
      delete: remove,
      ensureAdmin,
      hashPassword,
      verifyPassword
    } as const
  })
}) {}
