// The worker-thread bcrypt pool against bcryptjs on this thread: each side verifies the other's hashes,
// a wrong password or a malformed hash is false, and concurrent jobs on a 2-worker pool all come back.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { inThreadHasher, PasswordHasher } from "../../src/db/Passwords.js"

describe("PasswordHasher.workers", () => {
  it.scoped("hashes and verifies like bcryptjs in-thread, with 12 jobs queued on 2 workers", () =>
    Effect.gen(function* () {
      const pool = yield* PasswordHasher
      const pw = Redacted.make("correct horse battery")
      const fromPool = yield* pool.hash(pw, 4)
      expect(fromPool).toMatch(/^\$2[aby]\$04\$/)
      expect(yield* inThreadHasher.verify(pw, fromPool)).toBe(true)
      const fromThread = yield* inThreadHasher.hash(pw, 4)
      expect(yield* pool.verify(pw, fromThread)).toBe(true)
      expect(yield* pool.verify(Redacted.make("wrong"), fromThread)).toBe(false)
      expect(yield* pool.verify(pw, "not-a-bcrypt-hash")).toBe(false)
      const results = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) =>
          Effect.flatMap(pool.hash(Redacted.make(`pw-${i}`), 4), (h) =>
            pool.verify(Redacted.make(`pw-${i}`), h)
          ),
        { concurrency: "unbounded" }
      )
      expect(results).toEqual(Array.from({ length: 12 }, () => true))
    }).pipe(Effect.provide(PasswordHasher.workers(2)))
  )
})
