/**
 * Authentication for the API (spec api §4, §5): HS256 access tokens through `jose` with the exact claims
 * and checks of §4.3, bcrypt passwords (UserRepo), logout through the `revoked_tokens` denylist and bulk
 * revocation through `users.tokens_valid_from`, the per-process caches of §4.6, the login and
 * change-password rate limits of §2, single-use SSE tickets and the per-user SSE cap of §5.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { HttpServerRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Context, Effect, Option, Redacted, Schema } from "effect"
import { errors as joseErrors, jwtVerify, SignJWT } from "jose"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { formatUtc } from "../db/Columns.js"
import type { User } from "../db/Rows.js"
import { UserRepo } from "../db/UserRepo.js"
import { Forbidden, Texts, TooManyRequests, Unauthorized } from "./Errors.js"
import type { Principal } from "./Security.js"
import { Role } from "./Security.js"
import { makeTtlCache } from "./TtlCache.js"

export const ISSUER = "decnet"
export const AUDIENCE = "decnet-dashboard"
export const TOKEN_TYPE = "access"
export const TICKET_TTL_SECONDS = 60

/** The signing key of this API process (DECNET_JWT_SECRET, or the one `decnet up` keeps for itself). */
export class JwtSecret extends Context.Tag("decnet/api/JwtSecret")<JwtSecret, Redacted.Redacted<string>>() {}

/** What a route requires of its caller. */
export type Gate = "any" | "viewer" | "admin"

const unauthorized = () => new Unauthorized({ detail: Texts.credentials })

const isRole = Schema.is(Role)

const principalOf = (u: User): Principal | undefined =>
  isRole(u.role)
    ? { uuid: u.uuid, username: u.username, role: u.role, mustChangePassword: u.must_change_password }
    : undefined

/** The gate after a valid token (§4.3): must-change first, then the role. */
export const checkGate = (p: Principal, gate: Gate): Effect.Effect<Principal, Forbidden> => {
  if (gate === "any") return Effect.succeed(p)
  if (p.mustChangePassword) return Effect.fail(new Forbidden({ detail: Texts.mustChange }))
  if (gate === "admin" && p.role !== "admin") return Effect.fail(new Forbidden({ detail: Texts.permissions }))
  return Effect.succeed(p)
}

/** A sliding-window limiter: at most `limit` hits per `windowMs` per key (§2). */
const makeLimiter = (limit: number, windowMs: number) => {
  const hits = new Map<string, Array<number>>()
  return (key: string, now: number): boolean => {
    const since = now - windowMs
    const kept = (hits.get(key) ?? []).filter((t) => t > since)
    if (kept.length >= limit) {
      hits.set(key, kept)
      return false
    }
    kept.push(now)
    hits.set(key, kept)
    if (hits.size > 50_000) for (const [k, v] of hits) if (v.every((t) => t <= since)) hits.delete(k)
    return true
  }
}

interface Ticket {
  readonly principal: Principal
  readonly expires: number
}

const RevokedRows = Schema.Array(Schema.Struct({ jti: Schema.String }))

/** The peer's address (the TCP peer; X-Forwarded-For is ignored, §2). */
export const peerOf = (request: HttpServerRequest.HttpServerRequest) =>
  Option.getOrElse(request.remoteAddress, () => "unknown")

export class ApiAuth extends Effect.Service<ApiAuth>()("decnet/api/ApiAuth", {
  effect: Effect.gen(function* () {
    const config = yield* DecnetConfig
    const users = yield* UserRepo
    const sql = yield* SqlClient.SqlClient
    const secret = yield* JwtSecret
    // Imported once: given raw bytes, jose would import a new CryptoKey on every call.
    const key = yield* Effect.promise(() =>
      crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(Redacted.value(secret)),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"]
      )
    )
    const expSeconds = config.jwt.expMinutes * 60
    const limiterOn = config.api.limiterEnabled

    const byUuid = yield* makeTtlCache({ lookup: (uuid: string) => users.getByUuid(uuid), ttl: "10 seconds" })
    const byUsername = yield* makeTtlCache({
      lookup: (username: string) => users.getByUsername(username),
      ttl: "5 seconds",
      cacheWhen: Option.isSome
    })
    const revoked = yield* makeTtlCache({
      lookup: (jti: string) =>
        sql`SELECT ${sql("jti")} FROM ${sql("revoked_tokens")} WHERE ${sql("jti")} = ${jti}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(RevokedRows)),
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      ttl: "10 seconds"
    })

    const loginPerIp = makeLimiter(10, 5 * 60_000)
    const loginPerUser = makeLimiter(10, 5 * 60_000)
    const changePerIp = makeLimiter(5, 60_000)
    const tickets = new Map<string, Ticket>()
    const streams = new Map<string, number>()

    /** Sign an access token for this user (§4.3). */
    const issue = (uuid: string) =>
      Effect.gen(function* () {
        const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        return yield* Effect.tryPromise({
          try: () =>
            new SignJWT({ uuid, typ: TOKEN_TYPE })
              .setProtectedHeader({ alg: "HS256", typ: "JWT" })
              .setJti(randomUUID().replaceAll("-", ""))
              .setIssuedAt(now)
              .setExpirationTime(now + expSeconds)
              .setIssuer(ISSUER)
              .setAudience(AUDIENCE)
              .sign(key),
          catch: (cause) => cause
        }).pipe(Effect.orDie)
      })

    interface Claims {
      readonly uuid: string
      readonly jti: string
      readonly iat: number
      readonly exp: number
    }

    /**
     * Tokens whose signature and claims were checked, until their `exp`: the same text verifies the same
     * way, and WebCrypto's HMAC runs on the libuv pool (a round trip per request otherwise). Revocation,
     * `tokens_valid_from` and the user are still checked on every request.
     */
    const verified = new Map<string, Claims>()
    const VERIFIED_MAX = 10_000

    /** Signature, expiry and the required claims; anything else is 401. */
    const verifyToken = (token: string): Effect.Effect<Claims, Unauthorized> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const hit = verified.get(token)
        if (hit !== undefined) {
          if (hit.exp * 1000 > now) return Effect.succeed(hit)
          verified.delete(token)
          return Effect.fail(unauthorized())
        }
        return Effect.tap(verifySignature(token), (claims) =>
          Effect.sync(() => {
            if (verified.size >= VERIFIED_MAX) verified.clear()
            verified.set(token, claims)
          })
        )
      })

    const verifySignature = (token: string): Effect.Effect<Claims, Unauthorized> =>
      Effect.tryPromise({
        try: () =>
          jwtVerify(token, key, {
            algorithms: ["HS256"],
            issuer: ISSUER,
            audience: AUDIENCE,
            requiredClaims: ["exp", "iat", "iss", "aud", "uuid", "jti"]
          }),
        catch: (cause) => cause
      }).pipe(
        Effect.flatMap(({ payload }) => {
          const { uuid, jti, iat, exp, typ } = payload
          return typ === TOKEN_TYPE &&
            typeof uuid === "string" &&
            typeof jti === "string" &&
            jti !== "" &&
            typeof iat === "number" &&
            typeof exp === "number"
            ? Effect.succeed({ uuid, jti, iat, exp })
            : Effect.fail(unauthorized())
        }),
        Effect.catchAll((e) =>
          e instanceof Unauthorized || e instanceof joseErrors.JOSEError
            ? Effect.fail(unauthorized())
            : Effect.die(e)
        )
      )

    /** The full check of a bearer token (§4.3), then the gate. */
    /**
     * Callers that passed every check of `authenticate` within the last 10 s (the user and denylist caches'
     * window), for the edge cache's synchronous check (EdgeCache.ts). A write to the user (userChanged)
     * or a logout drops their entries at once.
     */
    const recent = new Map<
      string,
      { readonly principal: Principal; readonly jti: string; readonly until: number }
    >()
    const RECENT_MAX = 10_000
    const forget = (pred: (e: { readonly principal: Principal; readonly jti: string }) => boolean) => {
      for (const [token, e] of recent) if (pred(e)) recent.delete(token)
    }

    /** The caller of `token` if it passed `authenticate` recently and passes `gate`; else undefined. */
    const authenticateRecent = (token: string, gate: Gate, now: number): Principal | undefined => {
      const e = recent.get(token)
      if (e === undefined) return undefined
      if (e.until <= now) {
        recent.delete(token)
        return undefined
      }
      const p = e.principal
      if (gate !== "any" && (p.mustChangePassword || (gate === "admin" && p.role !== "admin")))
        return undefined
      return p
    }

    const authenticate = (token: string, gate: Gate) =>
      Effect.gen(function* () {
        if (token === "") return yield* unauthorized()
        const claims = yield* verifyToken(token)
        const user = yield* byUuid.get(claims.uuid)
        if (Option.isNone(user)) return yield* unauthorized()
        const validFrom = user.value.tokens_valid_from
        if (validFrom !== null && claims.iat < Math.floor(validFrom.getTime() / 1000))
          return yield* unauthorized()
        if (yield* revoked.get(claims.jti)) return yield* unauthorized()
        const principal = principalOf(user.value)
        if (principal === undefined) return yield* unauthorized()
        const now = yield* Clock.currentTimeMillis
        if (recent.size >= RECENT_MAX) recent.clear()
        recent.set(token, { principal, jti: claims.jti, until: Math.min(now + 10_000, claims.exp * 1000) })
        return yield* checkGate(principal, gate)
      })

    /** POST /auth/login: both rate-limit buckets count every attempt, successful ones included. */
    const login = (username: string, password: string, peer: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (limiterOn) {
          const ipOk = loginPerIp(peer, now)
          const userOk = loginPerUser(username.trim() === "" ? "\u0000anonymous" : username, now)
          if (!ipOk || !userOk)
            return yield* new TooManyRequests({ detail: "Rate limit exceeded: 10 per 5 minute" })
        }
        const user = yield* byUsername.get(username)
        if (Option.isNone(user)) return yield* new Unauthorized({ detail: Texts.login })
        const ok = yield* users.verifyPassword(Redacted.make(password), user.value.password_hash)
        if (!ok) return yield* new Unauthorized({ detail: Texts.login })
        return {
          access_token: yield* issue(user.value.uuid),
          token_type: "bearer" as const,
          must_change_password: user.value.must_change_password
        }
      })

    /** Any write to a user: drop its cached row and the whole login cache (§4.6). */
    const userChanged = (uuid: string) =>
      Effect.zipRight(
        Effect.sync(() => forget((e) => e.principal.uuid === uuid)),
        Effect.zipRight(byUuid.invalidate(uuid), byUsername.invalidateAll)
      )

    /** Revoke every token issued before now for this user (password change, reset, role change). */
    const revokeAll = (uuid: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* users.setTokensValidFrom(uuid, new Date(now))
        yield* userChanged(uuid)
      })

    /** POST /auth/logout: the token's jti joins the denylist until it would have expired anyway. */
    const logout = (token: string) =>
      Effect.gen(function* () {
        const claims = yield* verifyToken(token)
        const now = yield* Clock.currentTimeMillis
        yield* sql`DELETE FROM ${sql("revoked_tokens")} WHERE ${sql("expires_at")} < ${formatUtc(new Date(now))}`.pipe(
          Effect.orDie
        )
        yield* sql`INSERT INTO ${sql("revoked_tokens")} ${sql.insert({
          jti: claims.jti,
          user_uuid: claims.uuid,
          expires_at: formatUtc(new Date(claims.exp * 1000)),
          revoked_at: formatUtc(new Date(now))
        })}`.pipe(
          Effect.catchAll(() => Effect.void) // already revoked: the same outcome
        )
        yield* revoked.invalidate(claims.jti)
        forget((e) => e.jti === claims.jti)
      })

    /** POST /auth/change-password (5/min per IP). */
    const changePassword = (p: Principal, oldPassword: string, newPassword: string, peer: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (limiterOn && !changePerIp(peer, now))
          return yield* new TooManyRequests({ detail: "Rate limit exceeded: 5 per 1 minute" })
        const user = yield* users.getByUuid(p.uuid)
        if (Option.isNone(user)) return yield* unauthorized()
        const ok = yield* users.verifyPassword(Redacted.make(oldPassword), user.value.password_hash)
        if (!ok) return yield* new Unauthorized({ detail: "Incorrect old password" })
        const hash = yield* users.hashPassword(Redacted.make(newPassword))
        yield* users.updatePassword(p.uuid, hash, false)
        yield* revokeAll(p.uuid)
      })

    const sweepTickets = (now: number) => {
      for (const [t, v] of tickets) if (v.expires <= now) tickets.delete(t)
    }

    /** POST /auth/sse-ticket: 32 random bytes, url-safe, 60 s, single use, bound to the caller. */
    const mintTicket = (p: Principal) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sweepTickets(now)
        const ticket = randomBytes(32).toString("base64url")
        tickets.set(ticket, { principal: p, expires: now + TICKET_TTL_SECONDS * 1000 })
        return { ticket, expires_in: TICKET_TTL_SECONDS }
      })

    /** Redeem a ticket: consumed on the first try even when expired; then the route's gate. */
    const redeemTicket = (ticket: string, gate: Gate) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Principal, Unauthorized | Forbidden> => {
        const found = tickets.get(ticket)
        tickets.delete(ticket)
        sweepTickets(now)
        if (found === undefined || found.expires <= now) return Effect.fail(unauthorized())
        return checkGate(found.principal, gate)
      })

    /** SSE auth (§5.2): a bearer header gets the full checks; otherwise `?ticket=`. */
    const authenticateStream = (gate: Gate) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const header = request.headers.authorization ?? ""
        const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim()
        if (bearer !== undefined && bearer !== "") return yield* authenticate(bearer, gate)
        const url = new URL(request.url, "http://localhost")
        const ticket = url.searchParams.get("ticket") ?? ""
        if (ticket === "") return yield* unauthorized()
        return yield* redeemTicket(ticket, gate)
      })

    /** Take one of the user's SSE slots (§5.3) for the life of `scope`; a 429 when all are taken. */
    const acquireStreamSlot = (uuid: string) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const n = streams.get(uuid) ?? 0
          if (n >= config.api.sseMaxPerUser)
            return Effect.fail(
              new TooManyRequests({ detail: `SSE connection limit (${config.api.sseMaxPerUser}) reached` })
            )
          streams.set(uuid, n + 1)
          return Effect.void
        }),
        () =>
          Effect.sync(() => {
            const n = (streams.get(uuid) ?? 1) - 1
            if (n <= 0) streams.delete(uuid)
            else streams.set(uuid, n)
          })
      )

    return {
      issue,
      authenticate,
      authenticateRecent,
      authenticateStream,
      login,
      logout,
      changePassword,
      revokeAll,
      userChanged,
      mintTicket,
      redeemTicket,
      acquireStreamSlot,
      /** Open SSE streams of this user (tests, /health). */
      openStreams: (uuid: string) => streams.get(uuid) ?? 0
    } as const
  })
}) {}
