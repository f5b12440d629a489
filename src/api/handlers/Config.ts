// The `config` group (spec api §4.9, §7.14): settings read by everyone, users and limits by admins.
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option, Redacted, Schema } from "effect"
import { DecnetConfig } from "../../config/DecnetConfig.js"
import { EvidenceRepo } from "../../db/EvidenceRepo.js"
import { StateRepo } from "../../db/StateRepo.js"
import { UserRepo } from "../../db/UserRepo.js"
import { ApiAuth } from "../Auth.js"
import { DecnetApi } from "../Contract.js"
import { Conflict, Forbidden, NotFound } from "../Errors.js"
import { CurrentUser, Role } from "../Security.js"
import { makeTtlValue } from "../TtlCache.js"

export const DEFAULT_DEPLOYMENT_LIMIT = 10
export const DEFAULT_MUTATION_INTERVAL = "30m"
export const LIMITS_KEY = "config_limits"
export const GLOBALS_KEY = "config_globals"

const Limits = Schema.Struct({ deployment_limit: Schema.Number })
const Globals = Schema.Struct({ global_mutation_interval: Schema.String })
const isRole = Schema.is(Role)

export const ConfigHandlers = HttpApiBuilder.group(DecnetApi, "config", (handlers) =>
  Effect.gen(function* () {
    const state = yield* StateRepo
    const users = yield* UserRepo
    const auth = yield* ApiAuth
    const evidence = yield* EvidenceRepo
    const config = yield* DecnetConfig

    const settings = Effect.gen(function* () {
      const limits = Schema.decodeUnknownOption(Limits)(yield* state.get(LIMITS_KEY))
      const globals = Schema.decodeUnknownOption(Globals)(yield* state.get(GLOBALS_KEY))
      return {
        deployment_limit: Option.match(limits, {
          onNone: () => DEFAULT_DEPLOYMENT_LIMIT,
          onSome: (l) => l.deployment_limit
        }),
        global_mutation_interval: Option.match(globals, {
          onNone: () => DEFAULT_MUTATION_INTERVAL,
          onSome: (g) => g.global_mutation_interval
        })
      }
    })
    const settingsCache = yield* makeTtlValue(settings, "5 seconds")
    const userList = Effect.map(users.list(), (rows) =>
      rows.flatMap((u) =>
        isRole(u.role)
          ? [
              {
                uuid: u.uuid,
                username: u.username,
                role: u.role,
                must_change_password: u.must_change_password
              }
            ]
          : []
      )
    )
    const usersCache = yield* makeTtlValue(userList, "5 seconds")
    /** After any user write: the users list, the target's cached row and the login cache. */
    const usersChanged = (uuid: string) => Effect.zipRight(usersCache.invalidate, auth.userChanged(uuid))

    const target = (uuid: string) =>
      Effect.flatMap(
        users.getByUuid(uuid),
        Option.match({
          onNone: () => Effect.fail(new NotFound({ detail: "User not found" })),
          onSome: Effect.succeed
        })
      )

    return handlers
      .handle("config", () =>
        Effect.gen(function* () {
          const me = yield* CurrentUser
          const s = yield* settingsCache.get
          if (me.role !== "admin") return { role: me.role, ...s }
          return {
            role: me.role,
            ...s,
            users: yield* usersCache.get,
            ...(config.developer ? { developer_mode: true } : {})
          }
        })
      )
      .handle("deploymentLimit", ({ payload }) =>
        Effect.gen(function* () {
          yield* state.set(LIMITS_KEY, { deployment_limit: payload.deployment_limit })
          // Invalidated, not left stale for 5 s as in the original (spec §9).
          yield* settingsCache.invalidate
          return { message: "Deployment limit updated" }
        })
      )
      .handle("globalMutationInterval", ({ payload }) =>
        Effect.gen(function* () {
          yield* state.set(GLOBALS_KEY, { global_mutation_interval: payload.global_mutation_interval })
          yield* settingsCache.invalidate
          return { message: "Global mutation interval updated" }
        })
      )
      .handle("createUser", ({ payload }) =>
        Effect.gen(function* () {
          const hash = yield* users.hashPassword(Redacted.make(payload.password))
          const uuid = yield* users
            .create({
              username: payload.username,
              passwordHash: hash,
              role: payload.role,
              mustChangePassword: true
            })
            .pipe(
              Effect.catchTag("DbConstraintError", () =>
                Effect.fail(new Conflict({ detail: "Username already exists" }))
              )
            )
          yield* usersChanged(uuid)
          return { uuid, username: payload.username, role: payload.role, must_change_password: true }
        })
      )
      .handle("deleteUser", ({ path }) =>
        Effect.gen(function* () {
          const me = yield* CurrentUser
          if (path.user_uuid === me.uuid)
            return yield* new Forbidden({ detail: "Cannot delete your own account" })
          if (!(yield* users.delete(path.user_uuid))) return yield* new NotFound({ detail: "User not found" })
          yield* usersChanged(path.user_uuid)
          return { message: "User deleted" }
        })
      )
      .handle("updateRole", ({ path, payload }) =>
        Effect.gen(function* () {
          const me = yield* CurrentUser
          if (path.user_uuid === me.uuid)
            return yield* new Forbidden({ detail: "Cannot change your own role" })
          yield* target(path.user_uuid)
          yield* users.updateRole(path.user_uuid, payload.role)
          yield* auth.revokeAll(path.user_uuid)
          yield* usersChanged(path.user_uuid)
          return { message: "User role updated" }
        })
      )
      .handle("resetPassword", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* target(path.user_uuid)
          const hash = yield* users.hashPassword(Redacted.make(payload.new_password))
          yield* users.updatePassword(path.user_uuid, hash, true)
          yield* auth.revokeAll(path.user_uuid)
          yield* usersChanged(path.user_uuid)
          return { message: "Password reset successfully" }
        })
      )
      .handle("reinit", () =>
        Effect.gen(function* () {
          if (!config.developer) return yield* new Forbidden({ detail: "Developer mode is not enabled" })
          const deleted = yield* evidence.purge()
          return { message: "Data purged", deleted }
        })
      )
  })
)
