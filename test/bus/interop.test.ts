/**
 * Interoperability with a client written from the spec in another language: test/fixtures/bus_client.py
 * (Python 3 stdlib) publishes to and subscribes from our broker over its real UNIX socket.
 */
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveBroker } from "../../src/bus/Broker.js"
import { Decoder, encodeFrame, type Frame, type Verb } from "../../src/bus/Wire.js"

const dir = mkdtempSync(join(tmpdir(), "decnet-interop-"))
const path = join(dir, "bus.sock")
const heartbeatPath = join(dir, "hb.sock")
const CLIENT = join(import.meta.dirname, "../fixtures/bus_client.py")
const ENVELOPE_KEYS = ["v", "id", "topic", "type", "ts", "payload"]
let scope: Scope.CloseableScope

const python = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn("python3", [CLIENT, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    p.stdout.on("data", (c) => (stdout += c))
    p.stderr.on("data", (c) => (stderr += c))
    p.once("error", reject)
    p.once("close", (code) => resolve({ code, stdout, stderr }))
  })

const client = async (name: string, socketPath = path) => {
  const s: Socket = connect(socketPath)
  await new Promise((r) => s.once("connect", r))
  const frames: Array<Frame> = []
  const d = new Decoder()
  s.on("data", (c) => frames.push(...Either.getOrThrow(d.push(c))))
  const send = (verb: Verb, args: string, body?: string) =>
    s.write(Either.getOrThrow(encodeFrame(verb, args, body)))
  send("HELLO", name)
  return { s, frames, send }
}
const until = async (f: () => boolean, ms = 5000) => {
  for (let i = 0; i < ms / 10 && !f(); i++) await new Promise((r) => setTimeout(r, 10))
  return f()
}
const text = (f: Frame) => Buffer.from(f.body).toString("utf8")

/** Subscribe `c` to `pattern` and wait until the SUB is live (no SUB ack: probe it from a second client). */
const subscribed = async (c: Awaited<ReturnType<typeof client>>, pattern: string, probeTopic: string) => {
  c.send("SUB", pattern)
  const probe = await client("probe")
  const seen = () => c.frames.some((f) => f.args === probeTopic)
  for (let i = 0; i < 100 && !seen(); i++) {
    probe.send("PUB", probeTopic, "{}")
    await until(seen, 20)
  }
  probe.s.destroy()
  expect(seen()).toBe(true)
  c.frames.length = 0
}

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    serveBroker({ socketPath: path, group: "", heartbeatSeconds: 3600 }).pipe(Scope.extend(scope))
  )
  await Effect.runPromise(
    serveBroker({ socketPath: heartbeatPath, group: "", heartbeatSeconds: 0.2 }).pipe(Scope.extend(scope))
  )
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

describe("interop with the Python stdlib client", () => {
  it("Python publishes; the broker rebuilds the envelope for a Node subscriber", async () => {
    const sub = await client("node-sub")
    await subscribed(sub, "interop.*.py", "interop.probe.py")
    const before = Date.now() / 1000
    const r = await python([
      "pub",
      path,
      "interop.a.py",
      JSON.stringify({ k: "v", n: 1.5, u: "ü€", nested: { list: [1, "two", null] } }),
      "--type",
      "py.type",
      "--count",
      "3"
    ])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(await until(() => sub.frames.length >= 3)).toBe(true)
    const after = Date.now() / 1000
    const ids = new Set<string>()
    sub.frames.forEach((f, seq) => {
      expect(f.verb).toBe("EVT")
      expect(f.args).toBe("interop.a.py")
      const raw = text(f)
      const body = JSON.parse(raw)
      expect(Object.keys(body)).toEqual(ENVELOPE_KEYS)
      expect(raw.startsWith('{"v":1,"id":"')).toBe(true)
      expect(body.v).toBe(1)
      expect(body.id).toMatch(/^[0-9a-f]{32}$/)
      ids.add(body.id)
      expect(body.topic).toBe("interop.a.py") // not the client's "spoofed.topic"
      expect(body.type).toBe("py.type")
      expect(body.ts).toBeGreaterThanOrEqual(before - 1) // the broker's clock, not the client's ts 1.0
      expect(body.ts).toBeLessThanOrEqual(after + 1)
      expect(body.payload).toEqual({ k: "v", n: 1.5, u: "ü€", nested: { list: [1, "two", null] }, seq })
    })
    expect(ids.size).toBe(3)
    sub.s.destroy()
  })

  it("Python subscribes with a wildcard and receives what Node publishes, in order, nothing else", async () => {
    const ready = await client("node-ready")
    await subscribed(ready, "interop.ready", "interop.ready")
    const pub = await client("node-pub")
    const py = python([
      "sub",
      path,
      "interop.*.node",
      "5",
      "--ready-topic",
      "interop.ready",
      "--timeout",
      "20"
    ])
    expect(await until(() => ready.frames.some((f) => f.args === "interop.ready"), 15_000)).toBe(true)
    pub.send("PUB", "interop.n1.other", JSON.stringify({ payload: { no: true } }))
    pub.send("PUB", "interop.n1.deeper.node", JSON.stringify({ payload: { no: true } }))
    for (let i = 0; i < 5; i++)
      pub.send(
        "PUB",
        "interop.n1.node",
        JSON.stringify({ id: "node-id", ts: 7, type: "node.t", payload: { seq: i, s: "ß" } })
      )
    const r = await py
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(5)
    lines.forEach((line, i) => {
      expect(line.verb).toBe("EVT")
      expect(line.topic).toBe("interop.n1.node")
      const body = JSON.parse(line.body)
      expect(Object.keys(body)).toEqual(ENVELOPE_KEYS)
      expect(body.id).toMatch(/^[0-9a-f]{32}$/)
      expect(body.ts).not.toBe(7)
      expect(body).toMatchObject({
        v: 1,
        topic: "interop.n1.node",
        type: "node.t",
        payload: { seq: i, s: "ß" }
      })
    })
    ready.s.destroy()
    pub.s.destroy()
  })

  it("Python hears the broker heartbeat system.bus.health with its payload", async () => {
    const r = await python(["sub", heartbeatPath, "system.*.health", "1", "--timeout", "10"])
    expect(r.code).toBe(0)
    const line = JSON.parse(r.stdout.trim())
    expect(line.topic).toBe("system.bus.health")
    const body = JSON.parse(line.body)
    expect(Object.keys(body)).toEqual(ENVELOPE_KEYS)
    expect(body.type).toBe("bus.health")
    expect(body.payload.pid).toBe(process.pid)
    expect(typeof body.payload.ts).toBe("number")
  })

  it("a violation from the Python client closes only its own connection", async () => {
    const good = await client("node-good")
    await subscribed(good, "interop.still", "interop.still")
    const r = await python(["bad", path])
    expect(r.code).toBe(0)
    const pub = await client("node-pub2")
    pub.send("PUB", "interop.still", "{}")
    expect(await until(() => good.frames.length >= 1)).toBe(true)
    good.s.destroy()
    pub.s.destroy()
  })
})
