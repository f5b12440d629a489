// ApiAuth's tickets and token lifetimes on the TestClock (the server tests cannot wait 60 s): a ticket is
// refused after its 60 s and on a second use, an access token after DECNET_JWT_EXP_MINUTES.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Redacted, TestClock } from "effect"
import { ApiAuth, JwtSecret } from "../../src/api/Auth.js"
import type { Principal } from "../../src/api/Security.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { SqliteLive } from "../../src/db/Client.js"
import { MigrationsLive } from "../../src/db/Migrations.js"
import { UserRepo } from "../../src/db/UserRepo.js"

const AuthLive = ApiAuth.Default.pipe(
  Layer.provideMerge(UserRepo.Default),
  Layer.provideMerge(MigrationsLive),
  Layer.provideMerge(SqliteLive(":memory:")),
  Layer.provideMerge(Layer.succeed(JwtSecret, Redacted.make("ticket-test-secret-0123456789abcdef"))),
  Layer.provideMerge(DecnetConfig.fromMap({ DECNET_BCRYPT_ROUNDS: "4", DECNET_JWT_EXP_MINUTES: "1" }))
)

const viewer: Principal = { uuid: "u-1", username: "v", role: "viewer", mustChangePassword: false }

describe("ApiAuth on the TestClock", () => {
  it.effect("a ticket works once within 60 s, and not after", () =>
    Effect.gen(function* () {
      const auth = yield* ApiAuth
      const a = yield* auth.mintTicket(viewer)
      expect(a.expires_in).toBe(60)
      yield* TestClock.adjust(Duration.seconds(59))
      expect((yield* auth.redeemTicket(a.ticket, "viewer")).uuid).toBe("u-1")
      const reused = yield* Effect.flip(auth.redeemTicket(a.ticket, "viewer"))
      expect(reused).toMatchObject({ _tag: "Unauthorized", detail: "Could not validate credentials" })
      const b = yield* auth.mintTicket(viewer)
      yield* TestClock.adjust(Duration.seconds(61))
      expect(yield* Effect.flip(auth.redeemTicket(b.ticket, "viewer"))).toMatchObject({
        _tag: "Unauthorized"
      })
      // consumed even though it was expired: a retry is refused the same way
      expect(yield* Effect.flip(auth.redeemTicket(b.ticket, "viewer"))).toMatchObject({
        _tag: "Unauthorized"
      })
      // the ticket's role is checked against the route
      const c = yield* auth.mintTicket(viewer)
      expect(yield* Effect.flip(auth.redeemTicket(c.ticket, "admin"))).toMatchObject({
        _tag: "Forbidden",
        detail: "Insufficient permissions"
      })
    }).pipe(Effect.provide(AuthLive))
  )

  it.effect("an access token signed now is refused once its lifetime has passed", () =>
    Effect.gen(function* () {
      const auth = yield* ApiAuth
      const users = yield* UserRepo
      const uuid = yield* users.create({ username: "alice", passwordHash: "x", role: "viewer" })
      // jose checks `exp` against the real clock, so the token is issued in the past through the TestClock
      yield* TestClock.setTime(Date.now() - 2 * 60_000)
      const token = yield* auth.issue(uuid)
      expect(yield* Effect.flip(auth.authenticate(token, "viewer"))).toMatchObject({ _tag: "Unauthorized" })
      yield* TestClock.setTime(Date.now())
      const fresh = yield* auth.issue(uuid)
      expect((yield* auth.authenticate(fresh, "viewer")).username).toBe("alice")
      expect(Option.isSome(yield* users.getByUuid(uuid))).toBe(true)
    }).pipe(Effect.provide(AuthLive))
  )
})
