import { execFile } from "node:child_process"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as fc from "fast-check"
import { mysqlHoneypot, parseHandshakeResponse } from "../../src/honeypots/mysql/index.js"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { eventsOf, TestLayer, events as allEvents } from "./support.js"

const run = (cmd: string, args: ReadonlyArray<string>, timeout = 20_000) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(cmd, args, { timeout }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, out: stdout + stderr })
    )
  })

/** The fields (peer included) of every `type` event so far, each checked against the event contract. */
const events = (type: string) => Effect.map(eventsOf(type), (es) => es.map((e) => e.fields))

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble ‖ SHA1(SHA1(pw))). */
const nativeScramble = async (password: string, scramble: Buffer): Promise<Buffer> => {
  const { createHash } = await import("node:crypto")
  const sha1 = (b: Buffer) => createHash("sha1").update(b).digest()
  const s1 = sha1(Buffer.from(password))
  const s2 = sha1(Buffer.concat([scramble, sha1(s1)]))
  return Buffer.from(s1.map((b, i) => b ^ s2[i]!))
}

describe("mysql honeypot", () => {
  // The greeting offers caching_sha2_password (MySQL 8.0's default): the mariadb client answers with it,
  // and the "full authentication" an unknown account gets makes it send the password itself, RSA-encrypted
  // to the decky's key without TLS (the old test expected the 20-byte native scramble: MySQL 5.7's flow).
  it.live(
    "mariadb client without TLS: caching_sha2_password full auth captures the password, exact ERR 1045",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mysqlHoneypot.start({
          host: "127.0.0.1",
          port: () => 0,
          config: { version: "8.0.36" }
        })
        const r = yield* Effect.promise(() =>
          run("mariadb", [
            "-h",
            "127.0.0.1",
            "-P",
            String(l!.port),
            "-u",
            "root",
            "-pSecret123",
            "--skip-ssl",
            "-D",
            "shop",
            "-e",
            "select 1"
          ])
        )
        expect(r.code).not.toBe(0)
        expect(r.out).toContain(
          "ERROR 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: YES)"
        )
        const [auth] = yield* events("auth")
        expect(auth).toBeDefined()
        expect(auth!.src_ip).toBe("127.0.0.1")
        expect(auth!.src).toBeUndefined()
        expect(auth).toMatchObject({
          principal: "root",
          username: "root",
          secret_kind: "plaintext",
          secret_printable: "Secret123",
          database: "shop",
          client_plugin: "caching_sha2_password",
          tls: "false"
        })
        expect(Buffer.from(auth!.secret_b64!, "base64").toString()).toBe("Secret123")
        const [connect] = yield* events("connect")
        expect(connect!.connection_id).toBe(auth!.connection_id)
        const [disconnect] = yield* events("disconnect")
        expect(disconnect).toMatchObject({ src_ip: "127.0.0.1", src_port: auth!.src_port })
      }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live("mariadb client with TLS: the password arrives inside TLS", () =>
    Effect.gen(function* () {
      const [l] = yield* mysqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const r = yield* Effect.promise(() =>
        run("mariadb", [
          "-h",
          "127.0.0.1",
          "-P",
          String(l!.port),
          "-u",
          "dba",
          "-pTls-Pw!",
          "--ssl",
          "-e",
          "select 1"
        ])
      )
      expect(r.out).toContain(
        "ERROR 1045 (28000): Access denied for user 'dba'@'127.0.0.1' (using password: YES)"
      )
      const [auth] = yield* events("auth")
      expect(auth).toMatchObject({
        principal: "dba",
        secret_kind: "plaintext",
        secret_printable: "Tls-Pw!",
        tls: "true"
      })
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live(
    "a native answer is switched to caching_sha2_password; a client that leaves then is logged by its scramble",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mysqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const switched = yield* Effect.promise(
          () =>
            new Promise<Buffer>((resolve) => {
              const s = net.connect(l!.port, "127.0.0.1")
              let greeted = false
              s.on("data", (d) => {
                if (!greeted) {
                  greeted = true
                  const g = d.subarray(4)
                  const v = g.indexOf(0, 1)
                  const salt = Buffer.concat([g.subarray(v + 5, v + 13), g.subarray(v + 32, v + 44)])
                  void nativeScramble("Native1", salt).then((r) => s.write(handshakeResponse("svc", r)))
                } else {
                  s.destroy()
                  resolve(d)
                }
              })
            })
        )
        expect(switched.subarray(4).toString("latin1")).toMatch(/^\xfecaching_sha2_password\0[\s\S]{20}\0$/)
        expect(switched[3]).toBe(2)
        const auth = yield* Effect.gen(function* () {
          for (;;) {
            const [a] = yield* events("auth")
            if (a !== undefined) return a
            yield* Effect.sleep("20 millis")
          }
        })
        expect(auth).toMatchObject({ principal: "svc", secret_kind: "mysql_native_password" })
        const expected = yield* Effect.promise(() =>
          nativeScramble("Native1", Buffer.from(auth.scramble!, "hex"))
        )
        expect(auth.native_response).toBe(expected.toString("hex"))
        expect(auth.secret_printable).toBe(expected.toString("hex"))
      }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live(
    "a configured 5.7 persona greets as 5.7 (native passwords, no TLS) and logs the native scramble",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mysqlHoneypot.start({
          host: "127.0.0.1",
          port: () => 0,
          config: { version: "5.7.44-log" }
        })
        const r = yield* Effect.promise(() =>
          run("mariadb", [
            "-h",
            "127.0.0.1",
            "-P",
            String(l!.port),
            "-u",
            "root",
            "-pSecret123",
            "--skip-ssl",
            "-e",
            "select 1"
          ])
        )
        expect(r.out).toContain(
          "ERROR 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: YES)"
        )
        const [auth] = yield* events("auth")
        expect(auth).toMatchObject({
          secret_kind: "mysql_native_password",
          client_plugin: "mysql_native_password"
        })
        const expected = yield* Effect.promise(() =>
          nativeScramble("Secret123", Buffer.from(auth!.scramble!, "hex"))
        )
        expect(auth!.secret_printable).toBe(expected.toString("hex"))
        expect(Buffer.from(auth!.secret_b64!, "base64").equals(expected)).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live("no password: 'using password: NO' and no credential fields", () =>
    Effect.gen(function* () {
      const [l] = yield* mysqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const r = yield* Effect.promise(() =>
        run("mariadb", [
          "-h",
          "127.0.0.1",
          "-P",
          String(l!.port),
          "-u",
          "guest",
          "--skip-ssl",
          "-e",
          "select 1"
        ])
      )
      expect(r.out).toContain("Access denied for user 'guest'@'127.0.0.1' (using password: NO)")
      const [auth] = yield* events("auth")
      expect(auth!.principal).toBe("guest")
      expect(auth!.secret_b64).toBeUndefined()
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )

  it.live(
    "nmap -sV identifies MySQL with the seeded persona version",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mysqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l!.port
        const greeting = yield* Effect.promise(
          () =>
            new Promise<Buffer>((resolve) => {
              const s = net.connect(port, "127.0.0.1")
              s.once("data", (d) => {
                s.destroy()
                resolve(d)
              })
            })
        )
        const version = greeting.toString("latin1", 5, greeting.indexOf(0, 5))
        const r = yield* Effect.promise(() =>
          run("nmap", ["-sV", "-Pn", "-n", "-p", String(port), "127.0.0.1", "-oX", "-"], 120_000)
        )
        expect(r.out).toContain('product="MySQL"')
        expect(r.out).toContain(`version="${version}"`)
        expect(r.out.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    150_000
  )

  it.live("different deckies get different but stable personas", () =>
    Effect.gen(function* () {
      const greet = (decky: string) =>
        Effect.gen(function* () {
          const [l] = yield* mysqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
          return yield* Effect.promise(
            () =>
              new Promise<string>((resolve) => {
                const s = net.connect(l!.port, "127.0.0.1")
                s.once("data", (d) => {
                  s.destroy()
                  resolve(
                    `${d.toString("latin1", 5, d.indexOf(0, 5))}/${d.readUInt32LE(d.indexOf(0, 5) + 1)}`
                  )
                })
              })
          )
        }).pipe(
          Effect.scoped,
          Effect.provide(HoneypotContextLive({ decky }).pipe(Layer.provideMerge(EventSinkMemory)))
        )
      const personas = yield* Effect.forEach(
        ["decky-01", "decky-02", "decky-03", "decky-04", "decky-01"],
        greet
      )
      expect(personas[4]).toBe(personas[0])
      expect(new Set(personas).size).toBeGreaterThan(1)
    })
  )

  it("parseHandshakeResponse never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = parseHandshakeResponse(Buffer.from(b))
        expect(Either.isLeft(r) || typeof r.right.username === "string").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it.live(
    "fuzz: 20,000 mutated HandshakeResponse41 / random packets over real sockets",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mysqlHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l!.port
        const valid = handshakeResponse("root", Buffer.alloc(20, 7))
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
        expect(count("auth") + count("error")).toBeLessThanOrEqual(conns)
        // Connection ids are this instance's own sequence: one per connection, never repeated.
        const ids = es.filter((e) => e.type === "connect").map((e) => e.fields.connection_id)
        expect(new Set(ids).size).toBe(conns)
        const r = yield* Effect.promise(() =>
          run("mariadb", [
            "-h",
            "127.0.0.1",
            "-P",
            String(port),
            "-u",
            "after",
            "-px",
            "--skip-ssl",
            "-e",
            "select 1"
          ])
        )
        expect(r.out).toContain("Access denied for user 'after'")
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    120_000
  )
})

/** A HandshakeResponse41 packet (seq 1) as mariadb sends it. */
const handshakeResponse = (user: string, auth: Buffer): Buffer => {
  const fixed = Buffer.alloc(32)
  fixed.writeUInt32LE(0x000aa20f | 0x00080000 | 0x00008000 | 0x200, 0)
  fixed.writeUInt32LE(16 * 1024 * 1024, 4)
  fixed[8] = 0x21
  const payload = Buffer.concat([
    fixed,
    Buffer.from(`${user}\0`),
    Buffer.from([auth.length]),
    auth,
    Buffer.from("mysql_native_password\0")
  ])
  const h = Buffer.alloc(4)
  h.writeUIntLE(payload.length, 0, 3)
  h[3] = 1
  return Buffer.concat([h, payload])
}

/** One connection per case, `parallel` at a time: read the greeting, send the case, wait for close. */
const fuzz = async (port: number, cases: ReadonlyArray<Buffer>, parallel: number) => {
  let hung = 0
  let next = 0
  const one = (data: Buffer) =>
    new Promise<void>((resolve) => {
      const s = net.connect(port, "127.0.0.1")
      let greeted = false
      const timer = setTimeout(() => {
        hung++
        s.destroy()
      }, 10_000)
      s.on("data", () => {
        if (!greeted) {
          greeted = true
          s.end(data)
        }
      })
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
