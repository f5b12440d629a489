// The generator's PRNG: xoshiro128** keyed by SHA-256 of the seed. The first outputs are pinned (checked
// against the reference C implementation), so a change of algorithm or seeding cannot pass unnoticed.
import { describe, expect, it } from "@effect/vitest"
import { SeededRandom } from "../../src/topology/Random.js"

describe("SeededRandom", () => {
  it("seed 0: the reference xoshiro128** outputs from SHA-256('0')", () => {
    const r = SeededRandom.fromSeed(0)
    expect([r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32()]).toEqual([
      499544183, 4113196711, 356006461, 1825548429
    ])
  })

  it("the same seed gives the same draws; another seed others", () => {
    const draws = (seed: number) => {
      const r = SeededRandom.fromSeed(seed)
      return [
        r.random(),
        r.randint(1, 6),
        r.randint(0, 1000),
        r.sample(["a", "b", "c", "d", "e"], 3),
        r.choice(["x", "y"])
      ]
    }
    expect(draws(42)).toEqual(draws(42))
    expect(draws(42)).toEqual([
      0.6075347297550263,
      5,
      expect.any(Number),
      expect.any(Array),
      expect.any(String)
    ])
    expect(draws(43)).not.toEqual(draws(42))
    // A seed and its decimal text are one seed.
    expect(SeededRandom.fromSeed("42").nextU32()).toBe(SeededRandom.fromSeed(42).nextU32())
  })

  it("randint stays in [a, b] and reaches both ends; random in [0, 1)", () => {
    const r = SeededRandom.fromSeed(1)
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const n = r.randint(3, 7)
      expect(n).toBeGreaterThanOrEqual(3)
      expect(n).toBeLessThanOrEqual(7)
      seen.add(n)
      const f = r.random()
      expect(f).toBeGreaterThanOrEqual(0)
      expect(f).toBeLessThan(1)
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7])
    expect(r.randint(5, 5)).toBe(5)
    expect(r.randint(5, 2)).toBe(5)
    // Spans wider than 32 bits still land inside.
    const big = r.randint(0, 2 ** 40)
    expect(big).toBeGreaterThanOrEqual(0)
    expect(big).toBeLessThanOrEqual(2 ** 40)
  })

  it("sample: k distinct items of the pool, k clamped; the pool untouched", () => {
    const r = SeededRandom.fromSeed(9)
    const pool = ["a", "b", "c", "d", "e", "f"]
    for (let k = 0; k <= 6; k++) {
      const s = r.sample(pool, k)
      expect(s).toHaveLength(k)
      expect(new Set(s).size).toBe(k)
      for (const item of s) expect(pool).toContain(item)
    }
    expect(r.sample(pool, 10)).toHaveLength(6)
    expect(r.sample(pool, -1)).toEqual([])
    expect(pool).toEqual(["a", "b", "c", "d", "e", "f"])
  })

  it("draws are roughly uniform (1000 die rolls, every face 120..220)", () => {
    const r = SeededRandom.fromSeed("uniform")
    const counts = [0, 0, 0, 0, 0, 0]
    for (let i = 0; i < 1000; i++) counts[r.randint(0, 5)]! += 1
    for (const c of counts) {
      expect(c).toBeGreaterThan(120)
      expect(c).toBeLessThan(220)
    }
  })
})
