/**
 * Per-decky deterministic instance seed (spec/honeypots.md §0 "instance_seed").
 * Every persona choice (banners, versions, UUIDs) flows from SHA-256(`host:instance`), so a decky
 * differs from its neighbours yet stays stable across restarts. The PRNG is our own xoshiro128**,
 * not CPython's Mersenne Twister: byte-identical personas with the original are not a goal.
 */
import { createHash } from "node:crypto"

const sha256 = (input: string | Uint8Array): Buffer => createHash("sha256").update(input).digest()

export class InstanceSeed {
  readonly host: string
  readonly instanceId: string
  private readonly s: Uint32Array
  /** Seconds of fake uptime before this process started; drawn once. */
  readonly bootOffsetSeconds: number
  private readonly startedAt: number

  constructor(host: string, instanceId = "", now: number = Date.now()) {
    this.host = host === "" ? "decky" : host
    this.instanceId = instanceId
    const digest = sha256(`${this.host}:${instanceId}`)
    this.s = new Uint32Array([
      digest.readUInt32BE(0),
      digest.readUInt32BE(4),
      digest.readUInt32BE(8),
      digest.readUInt32BE(12)
    ])
    if (this.s.every((w) => w === 0)) this.s[0] = 1
    this.bootOffsetSeconds = this.int(3600, 45 * 86400)
    this.startedAt = now
  }

  /** xoshiro128**: next 32-bit unsigned integer. */
  nextU32(): number {
    return xoshiro128ssNext(this.s)
  }

  /** Uniform float in [0, 1). */
  random(): number {
    return (this.nextU32() * 2 ** 21 + (this.nextU32() >>> 11)) / 2 ** 53
  }

  /** Uniform integer in [min, max] (inclusive), without modulo bias. */
  int(min: number, max: number): number {
    const span = max - min + 1
    if (span <= 1) return min
    if (span <= 2 ** 32) {
      const limit = 2 ** 32 - (2 ** 32 % span)
      for (;;) {
        const x = this.nextU32()
        if (x < limit) return min + (x % span)
      }
    }
    return min + Math.floor(this.random() * span)
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.random()
  }

  /** One item; the non-empty type makes an empty persona table a compile error, not a runtime one. */
  pick<A>(items: readonly [A, ...Array<A>]): A {
    return items[this.int(0, items.length - 1)] ?? items[0]
  }

  pickWeighted<A>(items: ReadonlyArray<readonly [A, number]>): A {
    const total = items.reduce((acc, [, w]) => acc + w, 0)
    let r = this.uniform(0, total)
    for (const [item, w] of items) {
      if (r < w) return item
      r -= w
    }
    return items[items.length - 1]![0]
  }

  /** UUIDv5-style stable UUID for namespace `ns` (depends on host only). */
  uuid(ns: string): string {
    const h = sha256(`${this.host}:${ns}`)
    h[6] = (h[6]! & 0x0f) | 0x50
    h[8] = (h[8]! & 0x3f) | 0x80
    const x = h.subarray(0, 16).toString("hex")
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
  }

  /** `n` stable bytes for namespace `ns` (host only), as hex. */
  hex(n: number, ns: string): string {
    return this.bytes(n, ns).toString("hex")
  }

  /** Stable bytes: SHA-256(`host:ns:i`) for i = 0, 1, … concatenated and truncated. */
  bytes(n: number, ns: string): Buffer {
    const parts: Array<Buffer> = []
    let len = 0
    for (let i = 0; len < n; i++) {
      const d = sha256(`${this.host}:${ns}:${i}`)
      parts.push(d)
      len += d.length
    }
    return Buffer.concat(parts).subarray(0, n)
  }

  /** Fake uptime: boot offset + real seconds since the process started. */
  uptimeSeconds(now: number = Date.now()): number {
    return this.bootOffsetSeconds + Math.floor((now - this.startedAt) / 1000)
  }

  bootEpochSeconds(now: number = Date.now()): number {
    return Math.floor(now / 1000) - this.uptimeSeconds(now)
  }
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0

/**
 * One step of xoshiro128** (Blackman and Vigna) on a 4-word state, in place: the next unsigned 32-bit
 * output. Shared by the per-decky instance seed and MazeNET's generator (src/topology/Random.ts).
 */
export const xoshiro128ssNext = (s: Uint32Array): number => {
  const s0 = s[0] ?? 0
  const s1 = s[1] ?? 0
  const s2 = s[2] ?? 0
  const s3 = s[3] ?? 0
  const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0
  const t = (s1 << 9) >>> 0
  const n2 = (s2 ^ s0) >>> 0
  const n3 = (s3 ^ s1) >>> 0
  s[0] = (s0 ^ n3) >>> 0
  s[1] = (s1 ^ n2) >>> 0
  s[2] = (n2 ^ t) >>> 0
  s[3] = rotl(n3, 11)
  return result
}
