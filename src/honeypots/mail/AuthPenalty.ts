/**
 * Dovecot's failed-login timing, as its auth process and anvil apply it (imap and pop3): every failed
 * authentication answers after `auth_failure_delay` (2 s, flushed by a 1-2 s timer), and each source IP
 * carries a penalty that delays its next authentication before it even starts: 4, 8, then 15 s
 * (auth-penalty.c: 2 s doubled per penalty point, capped at 15 s), dropped after 15 s without a
 * failure, raised only by a user/password pair it has not seen, reset by a success. The waits are
 * sleeps on the connection's fiber; the per-IP table is bounded.
 */
import { createHash } from "node:crypto"
import { Clock, Effect, Random } from "effect"

const INIT_SECS = 2
const MAX_SECS = 15
const MAX_PENALTY = 3
/** Source IPs tracked at once; the oldest is forgotten first. */
const MAX_TRACKED = 10_000
/** The user/password pairs remembered per IP (anvil keeps a few, so repeating one costs nothing). */
const MAX_CHECKSUMS = 8

/** auth-penalty.c `auth_penalty_to_secs`. */
export const penaltySeconds = (penalty: number): number => Math.min(INIT_SECS * 2 ** penalty, MAX_SECS)

interface Entry {
  penalty: number
  lastMs: number
  readonly checksums: Array<string>
}

export interface AuthPenalty {
  /** Before an authentication starts: sleep the IP's penalty; returns the penalty it had. */
  readonly before: (ip: string) => Effect.Effect<number>
  /** A failed authentication: raise the IP's penalty, then sleep the failure delay. */
  readonly failed: (ip: string, had: number, user: string, password: Buffer) => Effect.Effect<void>
  readonly succeeded: (ip: string) => Effect.Effect<void>
}

/** The IPv6 /48 Dovecot groups by; IPv4 as is. */
const ident = (ip: string): string => (ip.includes(":") ? ip.split(":").slice(0, 3).join(":") : ip)

export const makeAuthPenalty = (): AuthPenalty => {
  const table = new Map<string, Entry>()

  /** The penalty left after the quiet time since the last failure (auth-penalty.c's drop loop). */
  const current = (e: Entry, now: number): number => {
    let penalty = e.penalty
    let drop = MAX_PENALTY
    while (penalty > 0 && now - e.lastMs >= penaltySeconds(drop) * 1000) {
      drop--
      penalty--
    }
    return penalty
  }

  const none = Effect.succeed(0)
  const before = (ip: string) => {
    // The common case, an IP with no failure on record, costs a map lookup.
    const e = table.get(ident(ip))
    if (e === undefined) return none
    return Effect.gen(function* () {
      const penalty = current(e, yield* Clock.currentTimeMillis)
      if (penalty > 0) yield* Effect.sleep(penaltySeconds(penalty) * 1000)
      return penalty
    })
  }

  const failed = (ip: string, had: number, user: string, password: Buffer) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const key = ident(ip)
      const sum = createHash("sha256").update(user).update("\0").update(password).digest("base64")
      const e = table.get(key) ?? { penalty: 0, lastMs: now, checksums: [] }
      table.delete(key)
      if (!e.checksums.includes(sum)) {
        e.penalty = Math.min(had + 1, MAX_PENALTY)
        e.checksums.push(sum)
        if (e.checksums.length > MAX_CHECKSUMS) e.checksums.shift()
      }
      e.lastMs = now
      table.set(key, e)
      if (table.size > MAX_TRACKED) {
        const oldest = table.keys().next()
        if (oldest.done !== true) table.delete(oldest.value)
      }
      // auth_failure_delay: failures are flushed by a timer, 1.5-2 s after the request here.
      yield* Effect.sleep(yield* Random.nextIntBetween(1_500, 2_050))
    })

  const succeeded = (ip: string) =>
    table.size === 0 ? Effect.void : Effect.sync(() => void table.delete(ident(ip)))

  return { before, failed, succeeded }
}
