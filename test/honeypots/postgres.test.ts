import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { parseStartup, postgresHoneypot } from "../../src/honeypots/postgres/index.js"
import { eventsOf, TestLayer, events as allEvents } from "./support.js"

const psql = (conninfo: string, password: string) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      "psql",
      [conninfo, "-c", "select 1"],
      { timeout: 20_000, env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" } },
      (err, stdout, stderr) =>
        resolve({
          code: err === null ? 0 : typeof err.code === "number" ? err.code : -1,
          out: stdout + stderr
        })
    )
  })

/** The fields (peer included) of every `type` event so far, each checked against the event contract. */
const events = (type: string) => Effect.map(eventsOf(type), (es) => es.map((e) => e.fields))

const md5 = (s: string | Buffer) => createHash("md5").update(s).digest("hex")

describe("postgres honeypot", () => {
  for (const sslmode of ["disable", "prefer"])
    it.live(`psql sslmode=${sslmode}: MD5 challenge answer is logged and verifies against the password`, () =>
      Effect.gen(function* () {
        const [l] = yield* postgresHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const r = yield* Effect.promise(() =>
          psql(
            `host=127.0.0.1 port=${l!.port} user=alice dbname=postgres sslmode=${sslmode} application_name=etl`,
            "S3cret!"
          )
        )
        expect(r.code).not.toBe(0)
        expect(r.out).toContain('FATAL:  password authentication failed for user "alice"')
        const [startup] = yield* events("startup_message")
        expect(startup).toMatchObject({
          src_ip: "127.0.0.1",
          username: "alice",
          database: "postgres",
          application_name: "etl"
        })
        const [auth] = yield* events("auth")
        expect(auth!.principal).toBe("alice")
        expect(auth!.secret_kind).toBe("postgres_md5_challenge")
        const expected = `md5${md5(Buffer.concat([Buffer.from(md5("S3cret!alice")), Buffer.from(auth!.salt!, "hex")]))}`
        expect(auth!.pw_hash).toBe(expected)
        expect(auth!.secret_printable).toBe(expected)
        expect(Buffer.from(auth!.secret_b64!, "base64").toString("hex")).toBe(expected.slice(3))
      }).pipe(Effect.scoped, Effect.provide(TestLayer()))
    )

  it.live("auth_method=cleartext captures the plaintext password", () =>
    Effect.gen(function* () {
      const [l] = yield* postgresHoneypot.start({
        host: "127.0.0.1",
        port: () => 0,
        config: { auth_method: "cleartext" }
      })
      const r = yield* Effect.promise(() =>
        psql(`host=127.0.0.1 port=${l!.port} user=alice dbname=template1 sslmode=prefer`, "Hunter2 pw")
      )
      expect(r.out).toContain('password authentication failed for user "alice"')
      const [auth] = yield* events("auth")
      expect(auth).toMatchObject({
        principal: "alice",
        secret_kind: "plaintext",
        secret_printable: "Hunter2 pw"
      })
      expect(Buffer.from(auth!.secret_b64!, "base64").toString()).toBe("Hunter2 pw")
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  // PostgreSQL authenticates before it looks the database up: an unknown database gets the password
  // prompt and the same 28P01 (the old pre-auth 3D000 let anyone list databases without a password).
  it.live("an unknown database still gets the password challenge, then 28P01", () =>
    Effect.gen(function* () {
      const [l] = yield* postgresHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const r = yield* Effect.promise(() =>
        psql(`host=127.0.0.1 port=${l!.port} user=alice dbname=prod sslmode=disable`, "x")
      )
      expect(r.out).toContain('FATAL:  password authentication failed for user "alice"')
      expect(r.out).not.toContain("does not exist")
      expect((yield* events("startup_message"))[0]).toMatchObject({
        username: "alice",
        database: "prod"
      })
      expect((yield* events("auth"))[0]).toMatchObject({ principal: "alice", database: "prod" })
      // The service's own `startup` (no peer) is the only event of that name.
      expect((yield* events("startup")).every((e) => e.src_ip === undefined)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live("ssl: true answers 'S' and psql sslmode=require completes TLS before the challenge", () =>
    Effect.gen(function* () {
      const [l] = yield* postgresHoneypot.start({
        host: "127.0.0.1",
        port: () => 0,
        config: { ssl: true, auth_method: "cleartext" }
      })
      const r = yield* Effect.promise(() =>
        psql(`host=127.0.0.1 port=${l!.port} user=carol dbname=postgres sslmode=require`, "TlsPw")
      )
      expect(r.out).toContain('FATAL:  password authentication failed for user "carol"')
      const [auth] = yield* events("auth")
      expect(auth).toMatchObject({ principal: "carol", secret_printable: "TlsPw" })
      const refused = yield* Effect.promise(() =>
        psql(`host=127.0.0.1 port=${l!.port} user=carol sslmode=disable replication=true`, "x")
      )
      expect(refused.out).toContain(
        'no pg_hba.conf entry for replication connection from host "127.0.0.1", user "carol", no encryption'
      )
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it("parseStartup never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = parseStartup(Buffer.from(b))
        expect(Either.isLeft(r) || typeof r.right._tag === "string").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it.live(
    "fuzz: 20,000 mutated startup/password exchanges over real sockets",
    () =>
      Effect.gen(function* () {
        const [l] = yield* postgresHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l!.port
        const valid = Buffer.concat([
          sslRequest(),
          startupMessage({ user: "bob", database: "postgres" }),
          passwordMessage("md5" + "a".repeat(32))
        ])
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
        expect(count("error")).toBeLessThanOrEqual(conns)
        expect(count("auth")).toBeLessThanOrEqual(conns)
        const r = yield* Effect.promise(() =>
          psql(`host=127.0.0.1 port=${port} user=after dbname=postgres sslmode=disable`, "x")
        )
        expect(r.out).toContain('password authentication failed for user "after"')
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    120_000
  )
})

const sslRequest = () => Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
const startupMessage = (params: Record<string, string>) => {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
    Buffer.from([0])
  ])
  const h = Buffer.alloc(4)
  h.writeUInt32BE(body.length + 4)
  return Buffer.concat([h, body])
}
const passwordMessage = (pw: string) => {
  const body = Buffer.from(`${pw}\0`)
  const h = Buffer.alloc(5)
  h[0] = 0x70
  h.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([h, body])
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
