import { execFile, execFileSync } from "node:child_process"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { desEncryptBlock, vncKey } from "../../src/honeypots/vnc/Des.js"
import { verifyVncResponse, vncHoneypot, vncResponse } from "../../src/honeypots/vnc/index.js"
import { eventsOf, TestLayer, events as allEvents } from "./support.js"

/** The fields (peer included) of every `type` event so far, each checked against the event contract. */
const events = (type: string) => Effect.map(eventsOf(type), (es) => es.map((e) => e.fields))

/** A scripted RFB client: reads exactly what the protocol says comes next. */
const rfbLogin = (port: number, password: string, clientVersion = "RFB 003.008\n") =>
  new Promise<{ serverVersion: string; types: Buffer; result: Buffer; challenge: Buffer }>(
    (resolve, reject) => {
      const s = net.connect(port, "127.0.0.1")
      let buf = Buffer.alloc(0)
      const waiters: Array<[number, (b: Buffer) => void]> = []
      const pump = () => {
        while (waiters.length > 0 && buf.length >= waiters[0]![0]) {
          const [n, f] = waiters.shift()!
          const chunk = buf.subarray(0, n)
          buf = buf.subarray(n)
          f(chunk)
        }
      }
      const read = (n: number) =>
        new Promise<Buffer>((r) => {
          waiters.push([n, r])
          pump()
        })
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d])
        pump()
      })
      s.on("error", reject)
      ;(async () => {
        const serverVersion = (await read(12)).toString()
        s.write(clientVersion)
        let types: Buffer
        if (clientVersion.includes("003.003")) types = await read(4)
        else {
          const count = (await read(1))[0]!
          types = await read(count)
          s.write(Buffer.from([2]))
        }
        const challenge = await read(16)
        s.write(vncResponse(password, challenge))
        const status = await read(4)
        const rest = clientVersion.includes("003.008")
          ? await read((await read(4)).readUInt32BE(0))
          : Buffer.alloc(0)
        s.destroy()
        resolve({ serverVersion, types, result: Buffer.concat([status, rest]), challenge })
      })().catch(reject)
    }
  )

describe("vnc honeypot", () => {
  it("DES matches the FIPS test vector and OpenSSL's legacy DES", () => {
    expect(
      desEncryptBlock(
        Buffer.from("133457799BBCDFF1", "hex"),
        Buffer.from("0123456789ABCDEF", "hex")
      ).toString("hex")
    ).toBe("85e813540f0ab405")
    const key = vncKey("hunter2")
    const block = Buffer.from("00112233445566778899aabbccddeeff", "hex").subarray(0, 8)
    const viaOpenssl = execFileSync(
      "openssl",
      ["enc", "-des-ecb", "-provider", "legacy", "-provider", "default", "-K", key.toString("hex"), "-nopad"],
      { input: block }
    )
    expect(desEncryptBlock(key, block).equals(viaOpenssl)).toBe(true)
  })

  it.live(
    "RFB 3.8 client with a known password: challenge and DES response logged, failure with reason",
    () =>
      Effect.gen(function* () {
        const [l] = yield* vncHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const r = yield* Effect.promise(() => rfbLogin(l!.port, "s3cret"))
        expect(r.serverVersion).toBe("RFB 003.008\n")
        expect([...r.types]).toEqual([2])
        expect(r.result.readUInt32BE(0)).toBe(1)
        // TigerVNC's wording (AuthFailureException), length-prefixed.
        expect(r.result.subarray(4).toString()).toBe("Authentication failure")
        expect((yield* events("version"))[0]).toMatchObject({
          src_ip: "127.0.0.1",
          client_version: "RFB 003.008"
        })
        expect((yield* events("security_choice"))[0]).toMatchObject({ type: "2" })
        const [a] = yield* events("auth_response")
        expect(a).toMatchObject({
          src_ip: "127.0.0.1",
          secret_kind: "vnc_des_response",
          challenge: r.challenge.toString("hex")
        })
        expect(a!.response).toBe(a!.secret_printable)
        expect(
          verifyVncResponse(
            "s3cret",
            Buffer.from(a!.challenge!, "hex"),
            Buffer.from(a!.secret_b64!, "base64")
          )
        ).toBe(true)
        expect(
          verifyVncResponse(
            "s3cres",
            Buffer.from(a!.challenge!, "hex"),
            Buffer.from(a!.secret_b64!, "base64")
          )
        ).toBe(false)
      }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live("an RFB 3.3 client gets the server-chosen security type and no reason string", () =>
    Effect.gen(function* () {
      const [l] = yield* vncHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const r = yield* Effect.promise(() => rfbLogin(l!.port, "pw", "RFB 003.003\n"))
      expect(r.types.readUInt32BE(0)).toBe(2)
      expect(r.result.equals(Buffer.from([0, 0, 0, 1]))).toBe(true)
      expect(yield* events("auth_response")).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live(
    "nmap -sV reports VNC protocol 3.8",
    () =>
      Effect.gen(function* () {
        const [l] = yield* vncHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const out = yield* Effect.promise(
          () =>
            new Promise<string>((resolve) =>
              execFile(
                "nmap",
                ["-sV", "-Pn", "-n", "-p", String(l!.port), "127.0.0.1", "-oX", "-"],
                { timeout: 120_000 },
                (_e, so) => resolve(so)
              )
            )
        )
        expect(out).toContain('name="vnc"')
        expect(out).toContain('product="VNC"')
        expect(out).toContain('extrainfo="protocol 3.8"')
        expect(out.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    150_000
  )

  it.live(
    "fuzz: 20,000 mutated RFB client streams over real sockets",
    () =>
      Effect.gen(function* () {
        // 20,000 connections from one address: TigerVNC's blacklist (5 connections) raised out of reach.
        const [l] = yield* vncHoneypot.start({
          host: "127.0.0.1",
          port: () => 0,
          config: { blacklist_threshold: 1_000_000 }
        })
        const port = l!.port
        const valid = Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.from([2]), Buffer.alloc(16, 0x41)])
        const cases = fc.sample(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.from(b)),
            fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
              const m = Buffer.from(valid)
              m[i] = v
              return m
            }),
            fc.nat({ max: valid.length - 1 }).map((n) => valid.subarray(0, n))
          ),
          20_000
        )
        const outcome = yield* Effect.promise(() => fuzz(port, cases, 24))
        expect(outcome.hung).toBe(0)
        const es = yield* allEvents
        const count = (type: string) => es.filter((e) => e.type === type).length
        const conns = count("connect")
        expect(conns).toBe(cases.length)
        expect(count("version")).toBeLessThanOrEqual(conns)
        expect(count("auth_response")).toBeLessThanOrEqual(conns)
        expect(count("error")).toBeLessThanOrEqual(conns)
        // Every event names its peer port, disconnect included (the connection's emitter supplies it).
        expect(es.filter((e) => e.type !== "startup").every((e) => e.fields.src_port !== undefined)).toBe(
          true
        )
        const r = yield* Effect.promise(() => rfbLogin(port, "after"))
        expect(r.result.readUInt32BE(0)).toBe(1)
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    120_000
  )
})

/** One connection per case, `parallel` at a time: send the case, half-close, wait for the server to close. */
const fuzz = async (port: number, cases: ReadonlyArray<Buffer>, parallel: number) => {
  let hung = 0
  let next = 0
  const one = (data: Buffer) =>
    new Promise<void>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => s.end(data))
      const timer = setTimeout(() => {
        hung++
        s.destroy()
      }, 10_000)
      s.on("data", () => undefined)
      s.on("error", () => undefined)
      s.on("close", () => {
        clearTimeout(timer)
        resolve()
      })
    })
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) await one(cases[next++]!)
    })
  )
  return { hung }
}
