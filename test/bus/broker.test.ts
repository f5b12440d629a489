import { mkdtempSync, statSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveBroker } from "../../src/bus/Broker.js"
import { Decoder, encodeFrame, type Frame, parseBody } from "../../src/bus/Wire.js"

const path = join(mkdtempSync(join(tmpdir(), "decnet-bus-")), "bus.sock")
let scope: Scope.CloseableScope

const client = async () => {
  const s: Socket = connect(path)
  await new Promise((r) => s.once("connect", r))
  const frames: Array<Frame> = []
  const d = new Decoder()
  s.on("data", (c) => frames.push(...Either.getOrThrow(d.push(c))))
  const send = (verb: "HELLO" | "SUB" | "PUB" | "EVT", args: string, body?: string) =>
    s.write(Either.getOrThrow(encodeFrame(verb, args, body)))
  return { s, frames, send }
}
const until = async (f: () => boolean) => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10))
}

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    serveBroker({ socketPath: path, group: "", heartbeatSeconds: 3600 }).pipe(Scope.extend(scope))
  )
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

describe("Broker", () => {
  it("socket is mode 0660", () => {
    expect(statSync(path).mode & 0o777).toBe(0o660)
  })

  it("rewrites envelopes, delivers once, never echoes to the publisher", async () => {
    const sub = await client()
    const pub = await client()
    sub.send("SUB", "attacker.>")
    sub.send("SUB", "attacker.*")
    pub.send("SUB", "attacker.>")
    await new Promise((r) => setTimeout(r, 50))
    pub.send(
      "PUB",
      "attacker.observed",
      JSON.stringify({
        id: "client-id",
        ts: 1,
        topic: "spoofed.topic",
        type: "observed",
        payload: { ip: "1.2.3.4" }
      })
    )
    await until(() => sub.frames.length >= 1)
    await new Promise((r) => setTimeout(r, 50))
    expect(sub.frames).toHaveLength(1)
    expect(pub.frames).toHaveLength(0)
    const evt = Either.getOrThrow(parseBody(sub.frames[0]?.body ?? new Uint8Array()))
    expect(sub.frames[0]?.args).toBe("attacker.observed")
    expect(evt.topic).toBe("attacker.observed")
    expect(evt.id).not.toBe("client-id")
    expect(evt.ts).not.toBe(1)
    expect(evt.payload).toEqual({ ip: "1.2.3.4" })
    sub.s.destroy()
    pub.s.destroy()
  })

  it("a protocol violation closes only that connection", async () => {
    const bad = await client()
    const good = await client()
    const pub = await client()
    good.send("SUB", "x.y")
    const closed = new Promise((r) => bad.s.once("close", r))
    bad.send("EVT", "x.y", "{}")
    await closed
    await new Promise((r) => setTimeout(r, 30))
    pub.send("PUB", "x.y", "{}")
    await until(() => good.frames.length >= 1)
    expect(good.frames).toHaveLength(1)
    good.s.destroy()
    pub.s.destroy()
  })
})
