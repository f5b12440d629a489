import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as fc from "fast-check"
import { Connection } from "tedious"
import {
  mssqlHoneypot,
  parseLogin7,
  parsePrelogin,
  preloginResponse
} from "../../src/honeypots/mssql/index.js"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { eventsOf, events as allEvents } from "./support.js"

const TestLayer = () =>
  HoneypotContextLive({ decky: "decky-01", hostname: "sql01" }).pipe(Layer.provideMerge(EventSinkMemory))

/** The fields (peer included) of every `type` event so far, each checked against the event contract. */
const events = (type: string) => Effect.map(eventsOf(type), (es) => es.map((e) => e.fields))

/** Log in with the real tedious driver; resolves with the connect error it surfaces. */
const tediousLogin = (port: number, user: string, password: string, encrypt: boolean) =>
  new Promise<{ message: string; code: string | undefined }>((resolve) => {
    const c = new Connection({
      server: "127.0.0.1",
      authentication: { type: "default", options: { userName: user, password } },
      options: {
        port,
        encrypt,
        trustServerCertificate: true,
        connectTimeout: 5000,
        database: "payroll",
        appName: "pwn-tool"
      }
    })
    c.on("connect", (err) => {
      c.close()
      resolve({ message: err?.message ?? "connected", code: (err as { code?: string } | undefined)?.code })
    })
    c.on("error", () => undefined)
    c.connect()
  })

describe("mssql honeypot", () => {
  it.live("tedious (encrypt: false): LOGIN7 password decoded, error 18456 surfaces in the driver", () =>
    Effect.gen(function* () {
      const [l] = yield* mssqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const r = yield* Effect.promise(() => tediousLogin(l!.port, "sa", "P@ssw0rd!é", false))
      expect(r.message).toBe("Login failed for user 'sa'.")
      expect(r.code).toBe("ELOGIN")
      const [auth] = yield* events("auth")
      expect(auth).toMatchObject({
        src_ip: "127.0.0.1",
        username: "sa",
        principal: "sa",
        secret_kind: "plaintext",
        database: "payroll",
        app_name: "pwn-tool",
        server_name: "127.0.0.1"
      })
      expect(Buffer.from(auth!.secret_b64!, "base64").toString("utf8")).toBe("P@ssw0rd!é")
      expect(auth!.secret_printable).toBe("P@ssw0rd!??")
      expect(auth!.src).toBeUndefined()
      expect(yield* events("connect")).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live(
    "tedious with encrypt: true still logs in in the clear when the server answers ENCRYPT_NOT_SUP",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mssqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const r = yield* Effect.promise(() => tediousLogin(l!.port, "svc_backup", "Backup#1", true))
        expect(r.message).toBe("Login failed for user 'svc_backup'.")
        const [auth] = yield* events("auth")
        expect(auth).toMatchObject({ principal: "svc_backup", secret_printable: "Backup#1" })
      }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live("an unknown packet type is logged once and the connection closed", () =>
    Effect.gen(function* () {
      const [l] = yield* mssqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      yield* Effect.promise(() =>
        fuzz(l!.port, [Buffer.from([0x01, 0x01, 0x00, 0x0c, 0, 0, 1, 0, 0x41, 0, 0x41, 0])], 1)
      )
      const [u] = yield* events("unknown_packet")
      expect(u).toMatchObject({ src_ip: "127.0.0.1", pkt_type: "0x01" })
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it("parseLogin7 never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const r = parseLogin7(Buffer.from(b))
        expect(Either.isLeft(r) || typeof r.right.username === "string").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it("parsePrelogin never throws, and a parsed table always yields a well-formed response", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        const options = parsePrelogin(Buffer.from(b))
        if (options === undefined) return
        const r = preloginResponse(["2019", 15, 0, 4335, 1], options)
        // Every option's offset and length stay inside the response.
        for (let at = 0; r[at] !== 0xff; at += 5)
          expect(r.readUInt16BE(at + 1) + r.readUInt16BE(at + 3)).toBeLessThanOrEqual(r.length)
      }),
      { numRuns: 3000 }
    )
  })

  it.live(
    "fuzz: 20,000 mutated PRELOGIN/LOGIN7 streams over real sockets",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mssqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l!.port
        const valid = Buffer.concat([prelogin(), login7("sa", "pw")])
        const cases = fc.sample(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => Buffer.from(b)),
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
        const once = ["auth", "error", "unknown_packet"].reduce((n, t) => n + count(t), 0)
        expect(once).toBeLessThanOrEqual(conns)
        expect(count("auth")).toBeGreaterThan(0)
        const r = yield* Effect.promise(() => tediousLogin(port, "after", "x", false))
        expect(r.message).toBe("Login failed for user 'after'.")
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    120_000
  )
})

const tds = (type: number, payload: Buffer) => {
  const h = Buffer.alloc(8)
  h[0] = type
  h[1] = 1
  h.writeUInt16BE(payload.length + 8, 2)
  return Buffer.concat([h, payload])
}
const prelogin = () => tds(0x12, Buffer.from("000006000601000b0001ff0e000000000000", "hex"))
const login7 = (user: string, password: string) => {
  const fixed = Buffer.alloc(94)
  const u = Buffer.from(user, "utf16le")
  const p = Buffer.from(Buffer.from(password, "utf16le").map((b) => (((b << 4) | (b >> 4)) & 0xff) ^ 0xa5))
  fixed.writeUInt32LE(0x74000004, 4)
  fixed.writeUInt16LE(94, 40)
  fixed.writeUInt16LE(user.length, 42)
  fixed.writeUInt16LE(94 + u.length, 44)
  fixed.writeUInt16LE(password.length, 46)
  const body = Buffer.concat([fixed, u, p])
  body.writeUInt32LE(body.length, 0)
  return tds(0x10, body)
}

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
