// The broker's bounds against hostile or stalled clients, over real UNIX sockets with raw wire clients:
// deeply nested bodies, the per-subscriber byte bound, the socket-buffer bound, patterns per connection,
// the connection cap and the route cache. The broker runs in this process: if it dies, the run fails.
import { mkdtempSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type BrokerHandle,
  QUEUE_BYTES_LIMIT,
  SOCKET_BUFFER_LIMIT,
  serveBroker
} from "../../src/bus/Broker.js"
import {
  Decoder,
  encodeFrame,
  type Frame,
  MAX_BODY,
  MAX_JSON_DEPTH,
  MAX_PATTERNS_PER_CONNECTION,
  parseBody,
  type Verb
} from "../../src/bus/Wire.js"

const dir = mkdtempSync(join(tmpdir(), "decnet-limits-"))
const mainPath = join(dir, "bus.sock")
const scopes: Array<Scope.CloseableScope> = []
let broker: BrokerHandle

const start = async (socketPath: string, maxConnections?: number): Promise<BrokerHandle> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  return Effect.runPromise(
    serveBroker({
      socketPath,
      group: "",
      heartbeatSeconds: 0,
      ...(maxConnections === undefined ? {} : { maxConnections })
    }).pipe(Scope.extend(scope))
  )
}
const stats = () => Effect.runPromise(broker.stats)

beforeAll(async () => {
  broker = await start(mainPath)
})
afterAll(async () => {
  for (const s of scopes) await Effect.runPromise(Scope.close(s, Exit.void))
})

const frame = (verb: Verb, args: string, body?: string | Uint8Array) =>
  Either.getOrThrow(encodeFrame(verb, args, body))

interface Client {
  readonly s: Socket
  readonly frames: Array<Frame>
  readonly closed: () => boolean
  readonly send: (verb: Verb, args: string, body?: string | Uint8Array) => void
}

const client = async (path = mainPath, read = true): Promise<Client> => {
  const s = connect(path)
  await new Promise((r) => s.once("connect", r))
  const frames: Array<Frame> = []
  const d = new Decoder()
  let closed = false
  s.on("error", () => undefined)
  s.once("close", () => {
    closed = true
  })
  if (read) s.on("data", (c) => frames.push(...Either.getOrThrow(d.push(c))))
  return { s, frames, closed: () => closed, send: (verb, args, body) => s.write(frame(verb, args, body)) }
}

const until = async (f: () => boolean, tries = 300) => {
  for (let i = 0; i < tries && !f(); i++) await new Promise((r) => setTimeout(r, 10))
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `{"payload":{"a":<open>…1…<close>}}` with `levels` nesting levels in total (the body object counts). */
const nested = (levels: number, kind: "object" | "array") => {
  const open = kind === "object" ? '{"a":' : "["
  const close = kind === "object" ? "}" : "]"
  return `{"payload":{"a":${open.repeat(levels - 2)}1${close.repeat(levels - 2)}}}`
}

/** A subscriber on a private topic and a publisher; `check` sends one event and expects it delivered. */
const watcher = async (topic: string) => {
  const sub = await client()
  const pub = await client()
  sub.send("SUB", topic)
  await pause(30)
  let n = 0
  return {
    sub,
    check: async () => {
      const want = ++n
      pub.send("PUB", topic, JSON.stringify({ payload: { n: want } }))
      await until(() => sub.frames.length >= want)
      expect(sub.closed()).toBe(false)
      expect(sub.frames).toHaveLength(want)
    },
    close: () => {
      sub.s.destroy()
      pub.s.destroy()
    }
  }
}

describe("broker limits", () => {
  it("a deeply nested body closes only that connection; the broker and other clients carry on", async () => {
    const w = await watcher("deep.watch")
    await w.check()
    const before = (await stats()).violations
    const bodies = [
      nested(5000, "object"), // ~30 KB: JSON.parse takes it, JSON.stringify would throw RangeError
      nested(5000, "array"),
      nested(200_000, "array"), // 400 KB of brackets
      `{"payload":{"a":${'[{"a":'.repeat(20_000)}1${"}]".repeat(20_000)}}}`, // mixed, 40 000 levels
      nested(MAX_JSON_DEPTH + 1, "object")
    ]
    for (const body of bodies) {
      const evil = await client()
      evil.send("HELLO", "evil")
      evil.send("PUB", "deep.watch", body)
      await until(evil.closed)
      expect(evil.closed()).toBe(true)
      await w.check()
    }
    expect((await stats()).violations - before).toBe(bodies.length)
    w.close()
  })

  it("a PUB topic with control characters closes that connection; literal wildcards still pass", async () => {
    const sub = await client()
    sub.send("SUB", ">")
    const w = await watcher("ctl.watch")
    await w.check()
    const before = (await stats()).violations
    const bad = ["ctl.\x1b[31mred", "ctl.a\x01b", "ctl.a\x7fb", "ctl.a\tb"]
    for (const topic of bad) {
      const evil = await client()
      evil.send("HELLO", "evil")
      evil.send("PUB", topic, JSON.stringify({ payload: { topic } }))
      await until(evil.closed)
      expect(evil.closed()).toBe(true)
      await w.check()
    }
    expect((await stats()).violations - before).toBe(bad.length)
    // Wildcard characters are literal text in a published topic (spec §1.6): delivered, no violation.
    const pub = await client()
    pub.send("PUB", "ctl.lit*eral.>", JSON.stringify({ payload: { ok: 1 } }))
    await until(() => sub.frames.some((f) => f.args === "ctl.lit*eral.>"))
    expect(pub.closed()).toBe(false)
    expect((await stats()).violations - before).toBe(bad.length)
    // The catch-all subscriber saw the watcher's events and the literal one, never a control character.
    expect(sub.frames.length).toBeGreaterThan(0)
    for (const f of sub.frames) expect(f.args).toMatch(/^[\x21-\x7e]+$/)
    for (const c of [sub, pub]) c.s.destroy()
    w.close()
  })

  it("bodies at the depth limit, with brackets inside strings, or with long strings are delivered", async () => {
    const sub = await client()
    const pub = await client()
    sub.send("SUB", "deep.ok")
    await pause(30)
    const long = "x".repeat(MAX_BODY - 200)
    const bodies = [
      nested(MAX_JSON_DEPTH, "object"),
      nested(MAX_JSON_DEPTH, "array"),
      // Brackets and escaped quotes inside strings are not nesting.
      JSON.stringify({ payload: { s: "[".repeat(10_000), t: '\\"{{{{"'.repeat(1000), u: "\\" } }),
      JSON.stringify({ payload: { s: long } })
    ]
    for (const body of bodies) pub.send("PUB", "deep.ok", body)
    await until(() => sub.frames.length >= bodies.length)
    expect(pub.closed()).toBe(false)
    expect(sub.frames).toHaveLength(bodies.length)
    const payloads = sub.frames.map((f) => Either.getOrThrow(parseBody(f.body)).payload)
    expect(payloads[2]).toEqual(JSON.parse(bodies[2] ?? "").payload)
    expect(payloads[3]).toEqual({ s: long })
    sub.s.destroy()
    pub.s.destroy()
  })

  it("a stalled subscriber holds at most the byte bound; it gets the newest events once it reads again", async () => {
    const slow = await client(mainPath, false)
    slow.s.pause() // never reads: the kernel buffer fills, then the broker's socket buffer, then its queue
    slow.send("SUB", "big.x")
    const fast = await client()
    fast.send("SUB", "big.x")
    await pause(30)
    const pub = await client()
    const pad = "p".repeat(256 * 1024)
    const N = 400
    let maxQueued = 0
    let maxSocket = 0
    for (let i = 0; i < N; i++) {
      if (!pub.s.write(frame("PUB", "big.x", JSON.stringify({ payload: { i, pad } }))))
        await new Promise((r) => pub.s.once("drain", r))
      if (i % 20 === 19) {
        await until(() => fast.frames.length > i - 5)
        const st = await stats()
        maxQueued = Math.max(maxQueued, st.queuedBytes)
        maxSocket = Math.max(maxSocket, st.socketBytes)
      }
    }
    await until(() => fast.frames.length >= N)
    expect(fast.frames).toHaveLength(N) // the fast subscriber never lost anything
    const st = await stats()
    const frameBytes = (fast.frames[0]?.body.length ?? 0) + 20
    // The stalled subscriber: one queue of at most 8 MiB and a socket buffer of at most 1 MiB + one frame;
    // the fast one has at most a few frames in flight at each sample (it is read between samples).
    expect(Math.max(maxQueued, st.queuedBytes)).toBeLessThanOrEqual(QUEUE_BYTES_LIMIT + 6 * frameBytes)
    expect(Math.max(maxSocket, st.socketBytes)).toBeLessThanOrEqual(2 * SOCKET_BUFFER_LIMIT + 8 * frameBytes)
    expect(st.dropped).toBeGreaterThan(N / 2)

    // Reading again: what it gets is in order and ends with the last event.
    const d = new Decoder()
    const seen: Array<number> = []
    slow.s.on("data", (c) => {
      for (const f of Either.getOrThrow(d.push(c))) {
        const p = Either.getOrThrow(parseBody(f.body)).payload as { i: number }
        seen.push(p.i)
      }
    })
    // While it catches up the broker refills its socket from the queue a bounded amount at a time.
    let sampling = true
    let maxCatchUp = 0
    const sample = () => {
      maxCatchUp = Math.max(maxCatchUp, Effect.runSync(broker.stats).socketBytes)
      if (sampling) setImmediate(sample)
    }
    sample()
    slow.s.resume()
    await until(() => seen.at(-1) === N - 1, 500)
    sampling = false
    expect(maxCatchUp).toBeLessThanOrEqual(SOCKET_BUFFER_LIMIT + frameBytes)
    expect(seen.at(-1)).toBe(N - 1)
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(seen.length).toBeLessThan(N / 2)
    for (const c of [slow, fast, pub]) c.s.destroy()
  })

  it(`${MAX_PATTERNS_PER_CONNECTION} patterns per connection are served; one more closes it`, async () => {
    const before = (await stats()).violations
    const many = await client()
    const subs = Array.from({ length: MAX_PATTERNS_PER_CONNECTION }, (_, i) => frame("SUB", `many.${i}`))
    many.s.write(Buffer.concat([...subs, frame("SUB", "many.0")])) // a repeat does not count
    const pub = await client()
    await pause(50)
    pub.send("PUB", `many.${MAX_PATTERNS_PER_CONNECTION - 1}`, "{}")
    await until(() => many.frames.length >= 1)
    expect(many.frames.map((f) => f.args)).toEqual([`many.${MAX_PATTERNS_PER_CONNECTION - 1}`])
    expect(many.closed()).toBe(false)
    many.send("SUB", "many.one-too-many")
    await until(many.closed)
    expect(many.closed()).toBe(true)
    expect((await stats()).violations - before).toBe(1)
    pub.s.destroy()
  })

  it("connections beyond maxConnections are closed at once; a freed slot is served again", async () => {
    const path = join(dir, "capped.sock")
    const capped = await start(path, 3)
    const held = [await client(path), await client(path), await client(path)]
    const extra = await client(path)
    await until(extra.closed)
    expect(extra.closed()).toBe(true)
    const st = await Effect.runPromise(capped.stats)
    expect(st.refused).toBe(1)
    expect(st.connections).toBe(3)
    expect(held.map((c) => c.closed())).toEqual([false, false, false])
    held[0]?.s.destroy()
    await until(() => Effect.runSync(capped.stats).connections === 2)
    const again = await client(path)
    again.send("SUB", "cap.x")
    await pause(30)
    held[1]?.send("PUB", "cap.x", "{}")
    await until(() => again.frames.length >= 1)
    expect(again.closed()).toBe(false)
    expect(again.frames).toHaveLength(1)
    for (const c of [...held, again]) c.s.destroy()
  })

  it("SUB, UNSUB and close keep cached routes up to date instead of clearing them", async () => {
    const a = await client()
    const b = await client()
    const pub = await client()
    a.send("SUB", "rc.>")
    await pause(30)
    const topics = ["rc.t0", "rc.t1", "rc.t2"]
    for (const t of topics) pub.send("PUB", t, "{}")
    await until(() => a.frames.length >= 3)
    const cached = (await stats()).routes
    expect(cached).toBeGreaterThanOrEqual(3)
    const got = (c: Client) => c.frames.map((f) => f.args)
    const round = async (want: Record<"a" | "b", Array<string>>) => {
      a.frames.length = 0
      b.frames.length = 0
      await pause(30)
      pub.send("PUB", "rc.t1", "{}")
      await until(() => a.frames.length >= want.a.length && b.frames.length >= want.b.length)
      await pause(20)
      expect({ a: got(a), b: got(b) }).toEqual(want)
    }
    b.send("SUB", "rc.t1")
    await round({ a: ["rc.t1"], b: ["rc.t1"] })
    a.send("SUB", "rc.*") // a second matching pattern of the same connection: still delivered once
    await round({ a: ["rc.t1"], b: ["rc.t1"] })
    a.send("UNSUB", "rc.>") // `rc.*` still matches
    b.send("UNSUB", "rc.t1")
    await round({ a: ["rc.t1"], b: [] })
    a.send("UNSUB", "rc.*")
    b.send("SUB", "rc.*")
    await round({ a: [], b: ["rc.t1"] })
    // None of that re-routed the cached topics.
    expect((await stats()).routes).toBeGreaterThanOrEqual(cached)
    b.s.destroy()
    await pause(30)
    a.send("SUB", "rc.t1")
    await round({ a: ["rc.t1"], b: [] })
    a.s.destroy()
    pub.s.destroy()
  })
})
