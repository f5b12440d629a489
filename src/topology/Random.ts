/**
 * The generator's seeded PRNG: xoshiro128** keyed by SHA-256 of the seed's decimal text. Only 32-bit
 * integer arithmetic (`Math.imul`, shifts), so one seed gives the same sequence on every platform and
 * Node version. It is not CPython's Mersenne Twister: topologies match run to run, not the original's.
 */
import { createHash } from "node:crypto"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { xoshiro128ssNext } from "../honeypots/runtime/Seed.js"

export class SeededRandom {
  private constructor(private readonly s: Uint32Array) {}

  /** The state is the first 16 bytes of SHA-256(`String(seed)`), as four big-endian words. */
  static fromSeed(seed: number | string): SeededRandom {
    const digest = createHash("sha256").update(String(seed), "utf8").digest()
    const s = new Uint32Array([
      digest.readUInt32BE(0),
      digest.readUInt32BE(4),
      digest.readUInt32BE(8),
      digest.readUInt32BE(12)
    ])
    // xoshiro's one forbidden state; SHA-256 will not produce it, but the guard costs nothing.
    if (s.every((w) => w === 0)) s[0] = 1
    return new SeededRandom(s)
  }

  /** The next unsigned 32-bit output. */
  nextU32(): number {
    return xoshiro128ssNext(this.s)
  }

  /** A float in [0, 1) with 53 random bits. */
  random(): number {
    const high = this.nextU32() >>> 5
    const low = this.nextU32() >>> 6
    return (high * 2 ** 26 + low) / 2 ** 53
  }

  /** An integer in [a, b], both inclusive, without modulo bias; `b <= a` gives `a`. */
  randint(a: number, b: number): number {
    const span = b - a + 1
    if (span <= 1) return a
    if (span <= 2 ** 32) {
      // Rejection sampling: drop the top partial block of 2^32 so every residue is equally likely.
      const limit = 2 ** 32 - (2 ** 32 % span)
      for (;;) {
        const x = this.nextU32()
        if (x < limit) return a + (x % span)
      }
    }
    return a + Math.floor(this.random() * span)
  }

  choice<A>(items: NonEmptyReadonlyArray<A>): A {
    return items[this.randint(0, items.length - 1)] ?? items[0]
  }

  /**
   * `k` distinct items of `pool` in drawn order (a partial Fisher–Yates shuffle of a copy); `k` is clamped
   * to [0, pool length].
   */
  sample<A>(pool: ReadonlyArray<A>, k: number): Array<A> {
    const copy = [...pool]
    const n = Math.max(0, Math.min(k, copy.length))
    for (let i = 0; i < n; i++) {
      const j = this.randint(i, copy.length - 1)
      const picked = copy[j]!
      copy[j] = copy[i]!
      copy[i] = picked
    }
    return copy.slice(0, n)
  }
}
