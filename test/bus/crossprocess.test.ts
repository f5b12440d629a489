// The broker as a real child process (`decnet bus`), clients in this process, in CLI child processes and
// on raw sockets: wildcard delivery, unsubscribe, fan-out, a slow subscriber, SIGKILL + restart, SIGTERM.
// No wall-clock assertions: every wait polls a condition a bounded number of times.
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, statSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either, Exit, Ref, Scope, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { BusEvent } from "../../src/bus/Bus.js"
import { makeUnixBus, type UnixBusService } from "../../src/bus/UnixBus.js"
import { Decoder, encodeFrame } from "../../src/bus/Wire.js"
import { DECNET } from "../support/cli.js"

const children: Array<ChildProcess> = []
const scopes: Array<Scope.CloseableScope> = []
afterEach(async () => {
  for (const s of scopes.splice(0)) await Effect.runPromise(Scope.close(s, Exit.void))
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const waitFor = async (check: () => boolean, tries = 300, everyMs = 20) => {
  for (let i = 0; i < tries && !check(); i++) await sleep(everyMs)
  return check()
}

interface Proc {
  readonly child: ChildProcess
  stdout: string
  stderr: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Proc => {
  const child = spawn(process.execPath, [...DECNET, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  const p: Proc = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  }
  child.stdout?.on("data", (d: Buffer) => {
    p.stdout += d.toString()
  })
  child.stderr?.on("data", (d: Buffer) => {
    p.stderr += d.toString()
  })
  return p
}

const tmpSocket = () => join(mkdtempSync(join(tmpdir(), "decnet-xproc-")), "bus.sock")

const startBroker = async (path: string, heartbeat = 3600, extra: ReadonlyArray<string> = []) => {
  const p = cli(["bus", "--socket", path, "--group", "", "--heartbeat", String(heartbeat), ...extra])
  expect(await waitFor(() => p.stderr.includes("listening on"), 1500)).toBe(true)
  return p
}

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  return Effect.runPromise(Scope.extend(effect, scope))
}

/** A UnixBus in a scope of its own (closed after the test). */
const client = (path: string, name: string) => run(makeUnixBus({ socketPath: path, name }))

/** Subscribe and collect into an array in the background. */
const collect = async (bus: UnixBusService, pattern: string) => {
  const got: Array<BusEvent> = []
  await run(
    Effect.flatMap(bus.subscribe(pattern), (s) =>
      Stream.runForEach(s, (e) => Effect.sync(() => got.push(e))).pipe(Effect.forkScoped)
    )
  )
  return got
}

const pub = (bus: UnixBusService, topic: string, payload: Record<string, unknown>) =>
  Effect.runPromise(bus.publish(topic, payload))

/** Publish a probe until `got` has something (a SUB has no ack); bounded. */
const primed = async (bus: UnixBusService, topic: string, got: ReadonlyArray<unknown>) => {
  for (let i = 0; i < 100 && got.length === 0; i++) {
    await pub(bus, topic, { probe: i })
    await sleep(20)
  }
  return got.length > 0
}

describe("cross-process bus", () => {
  it("CLI pub/sub through a broker child: wildcard delivery, one JSON envelope per line", async () => {
    const path = tmpSocket()
    await startBroker(path)
    expect(statSync(path).mode & 0o777).toBe(0o660)
    const star = cli(["bus", "--socket", path, "sub", "cp.*.x", "--json", "--count", "2"])
    const tail = cli(["bus", "sub", "cp.>", "--json", "--count", "3"], { DECNET_BUS_SOCKET: path })
    expect(
      await waitFor(
        () => star.stderr.includes("subscribed to") && tail.stderr.includes("subscribed to"),
        1500
      )
    ).toBe(true)
    for (const [topic, n] of [
      ["cp.a.x", 1],
      ["cp.b", 2],
      ["cp.c.x", 3]
    ] as const) {
      const p = cli(["bus", "--socket", path, "pub", topic, JSON.stringify({ n }), "--type", "t"])
      expect((await p.exited).code).toBe(0)
    }
    expect((await star.exited).code).toBe(0)
    expect((await tail.exited).code).toBe(0)
    const lines = (s: string) =>
      s
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
    expect(lines(star.stdout).map((e) => [e.topic, e.payload.n])).toEqual([
      ["cp.a.x", 1],
      ["cp.c.x", 3]
    ])
    const all = lines(tail.stdout)
    expect(all.map((e) => e.topic)).toEqual(["cp.a.x", "cp.b", "cp.c.x"])
    expect(Object.keys(all[0])).toEqual(["v", "id", "topic", "type", "ts", "payload"])
    expect(all[0].type).toBe("t")
  })

  it("the human sub line prints a publisher's control characters as text, not as terminal commands", async () => {
    const path = tmpSocket()
    await startBroker(path)
    const sub = cli(["bus", "--socket", path, "sub", "cp.>", "--count", "1"])
    expect(await waitFor(() => sub.stderr.includes("subscribed to"), 1500)).toBe(true)
    const evilType = "\u001b]0;owned\u0007\u001b[2J\u009bclear"
    const p = cli([
      "bus",
      "--socket",
      path,
      "pub",
      "cp.esc",
      JSON.stringify({ s: "\u001b[31m" }),
      "--type",
      evilType
    ])
    expect((await p.exited).code).toBe(0)
    expect((await sub.exited).code).toBe(0)
    const line = sub.stdout.trim()
    expect(line).toContain(" cp.esc \\u001b]0;owned\\u0007\\u001b[2J\\u009bclear ")
    expect(line).toContain('{"s":"\\u001b[31m"}')
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
  })

  it("the broker heartbeat reaches a CLI subscriber: {pid, uptime_s, uptime_sec, ts}", async () => {
    const path = tmpSocket()
    const broker = await startBroker(path, 1)
    const sub = cli(["bus", "--socket", path, "sub", "system.bus.health", "--json", "--count", "1"])
    expect((await sub.exited).code).toBe(0)
    const e = JSON.parse(sub.stdout.trim())
    expect(e.type).toBe("bus.health")
    expect(e.payload.pid).toBe(broker.child.pid)
    expect(typeof e.payload.uptime_s).toBe("number")
    expect(e.payload.uptime_sec).toBe(e.payload.uptime_s)
    expect(typeof e.payload.ts).toBe("number")
  })

  it("in-process clients against the broker child: unsubscribe and fan-out to 10 subscribers", async () => {
    const path = tmpSocket()
    await startBroker(path)
    const publisher = await client(path, "xp-pub")
    const subs = await Promise.all(Array.from({ length: 10 }, (_, i) => client(path, `xp-sub-${i}`)))
    const gots = await Promise.all(subs.map((s) => collect(s, "fo.>")))
    // Prime every subscriber, then count only the real events.
    for (const g of gots) expect(await primed(publisher, "fo.probe", g)).toBe(true)
    for (let n = 0; n < 500; n++) await pub(publisher, `fo.t.${n % 5}`, { n })
    for (const g of gots) {
      expect(await waitFor(() => g.filter((e) => e.topic !== "fo.probe").length >= 500)).toBe(true)
      expect(g.filter((e) => e.topic !== "fo.probe").map((e) => e.payload.n)).toEqual(
        Array.from({ length: 500 }, (_, i) => i)
      )
    }

    // Unsubscribe: a subscription whose scope closed stops receiving; a sibling client still does.
    const leaving = await client(path, "xp-leaving")
    const scope = Effect.runSync(Scope.make())
    const leftGot: Array<BusEvent> = []
    await Effect.runPromise(
      Effect.flatMap(leaving.subscribe("un.>"), (s) =>
        Stream.runForEach(s, (e) => Effect.sync(() => leftGot.push(e))).pipe(Effect.forkScoped)
      ).pipe(Scope.extend(scope))
    )
    const stayGot = await collect(subs[0] as UnixBusService, "un.>")
    expect(await primed(publisher, "un.probe", leftGot)).toBe(true)
    expect(await primed(publisher, "un.probe", stayGot)).toBe(true)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const before = leftGot.length
    await sleep(50)
    await pub(publisher, "un.after", { n: 1 })
    expect(await waitFor(() => stayGot.some((e) => e.topic === "un.after"))).toBe(true)
    await sleep(50)
    expect(leftGot.length).toBe(before)
  })

  it("a slow raw subscriber loses its oldest events; the publisher and a fast subscriber do not stall", async () => {
    const path = tmpSocket()
    const broker = await startBroker(path)
    const total = 200_000

    // The slow one: subscribes, then stops reading from its socket.
    const slow: Socket = connect(path)
    await new Promise((r) => slow.once("connect", r))
    slow.pause()
    slow.write(Either.getOrThrow(encodeFrame("HELLO", "slow-raw")))
    slow.write(Either.getOrThrow(encodeFrame("SUB", "slow.>")))

    const fast = await client(path, "fast")
    const publisher = await client(path, "slow-pub")
    const fastGot = await run(Ref.make(0))
    let fastLast = -1
    let inOrder = true
    await run(
      Effect.flatMap(fast.subscribe("slow.>"), (s) =>
        Stream.runForEachChunk(s, (chunk) =>
          Effect.sync(() => {
            for (const e of chunk) {
              const n = e.payload.n
              if (typeof n === "number") {
                if (n !== fastLast + 1) inOrder = false
                fastLast = n
              }
            }
          }).pipe(Effect.zipRight(Ref.update(fastGot, (k) => k + chunk.length)))
        ).pipe(Effect.forkScoped)
      )
    )
    await sleep(100)
    const pad = "p".repeat(200)
    // Flow control on the fast subscriber only: at most 512 events in flight to it. The slow one is
    // ignored by construction; if it could stall the broker, the fast one would stop receiving.
    for (let n = 0; n < total; ) {
      const received = Effect.runSync(Ref.get(fastGot))
      if (n - received < 512) {
        const burst = Math.min(128, total - n)
        for (let k = 0; k < burst; k++, n++) await pub(publisher, "slow.evt", { n, pad })
      } else {
        await new Promise((r) => setImmediate(r))
      }
    }
    expect(await waitFor(() => Effect.runSync(Ref.get(fastGot)) >= total, 1000)).toBe(true)
    expect(Effect.runSync(Ref.get(fastGot))).toBe(total)
    expect(fastLast).toBe(total - 1)
    expect(inOrder).toBe(true)
    expect((await Effect.runPromise(fast.stats)).droppedSubscriberFull).toBe(0)

    // Now the slow one reads: older events are gone, the newest are there.
    const d = new Decoder()
    const seqs: Array<number> = []
    slow.on("data", (c: Buffer) => {
      for (const f of Either.getOrThrow(d.push(c))) {
        const body = JSON.parse(Buffer.from(f.body).toString("utf8"))
        seqs.push(body.payload.n)
      }
    })
    slow.resume()
    expect(await waitFor(() => seqs.at(-1) === total - 1, 500)).toBe(true)
    expect(seqs.length).toBeLessThan(total)
    expect(seqs.length).toBeGreaterThanOrEqual(1024)
    for (let i = 1; i < seqs.length; i++) expect((seqs[i] ?? 0) > (seqs[i - 1] ?? 0)).toBe(true)
    slow.destroy()
    // The broker's account of this subscriber: every event was either delivered or dropped.
    expect(await waitFor(() => /subscriber slow-raw left; \d+ events dropped/.test(broker.stderr), 500)).toBe(
      true
    )
    const dropped = Number(/subscriber slow-raw left; (\d+) events dropped/.exec(broker.stderr)?.[1])
    expect(dropped).toBeGreaterThan(0)
    expect(dropped + seqs.length).toBe(total)
  })

  it("SIGKILL and restart on the same path: clients reconnect, resubscribe and get new events", async () => {
    const path = tmpSocket()
    const first = await startBroker(path)
    const sub = await client(path, "survivor-sub")
    const publisher = await client(path, "survivor-pub")
    const got = await collect(sub, "k.>")
    expect(await primed(publisher, "k.before", got)).toBe(true)

    first.child.kill("SIGKILL")
    expect((await first.exited).signal).toBe("SIGKILL")
    expect(await waitFor(() => Effect.runSync(sub.state) !== "connected")).toBe(true)
    expect(existsSync(path)).toBe(true) // a killed broker leaves its socket file behind

    await startBroker(path)
    // Publish a fresh event every 100 ms until the subscriber has one from after the restart (bounded).
    const seen = () => got.some((e) => e.topic === "k.after")
    for (let i = 0; i < 50 && !seen(); i++) {
      await pub(publisher, "k.after", { i })
      await sleep(100)
    }
    expect(seen()).toBe(true)
    expect(Effect.runSync(sub.state)).toBe("connected")
    expect(Effect.runSync(publisher.state)).toBe("connected")
    expect((await Effect.runPromise(sub.stats)).reconnects).toBeGreaterThanOrEqual(1)
  })

  it("SIGTERM: exit code 0 and the socket file is removed", async () => {
    const path = tmpSocket()
    const broker = await startBroker(path)
    expect(existsSync(path)).toBe(true)
    broker.child.kill("SIGTERM")
    const exit = await broker.exited
    expect(exit.code).toBe(0)
    expect(existsSync(path)).toBe(false)
    expect(broker.stderr).toContain("shutting down")
  })

  it("the broker process survives a 5000-deep PUB body, and --max-connections closes extra clients", async () => {
    const path = tmpSocket()
    const broker = await startBroker(path, 3600, ["--max-connections", "2"])
    const raw = async () => {
      const s: Socket = connect(path)
      s.on("error", () => undefined)
      const state = { closed: false }
      s.once("close", () => {
        state.closed = true
      })
      await new Promise((r) => s.once("connect", r))
      return { s, state }
    }
    const frame = (verb: "PUB" | "SUB", args: string, body?: string) =>
      Either.getOrThrow(encodeFrame(verb, args, body))
    const evil = await raw()
    evil.s.write(frame("PUB", "x.y", `{"payload":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`))
    expect(await waitFor(() => evil.state.closed)).toBe(true)
    expect(await waitFor(() => broker.stderr.includes("body-too-deep"))).toBe(true)
    const a = await raw()
    const b = await raw()
    const c = await raw()
    expect(await waitFor(() => c.state.closed)).toBe(true)
    expect(broker.stderr).toContain("2 clients already connected; connection refused")
    // The broker is alive and still serves the two it accepted.
    const got: Array<string> = []
    const d = new Decoder()
    a.s.on("data", (chunk) => {
      for (const f of Either.getOrThrow(d.push(chunk))) got.push(f.args)
    })
    a.s.write(frame("SUB", "x.y"))
    for (let i = 0; i < 100 && got.length === 0; i++) {
      b.s.write(frame("PUB", "x.y", "{}"))
      await sleep(20)
    }
    expect(got[0]).toBe("x.y")
    expect([a.state.closed, b.state.closed]).toEqual([false, false])
    expect(broker.child.exitCode).toBeNull()
    a.s.destroy()
    b.s.destroy()
  })
})
