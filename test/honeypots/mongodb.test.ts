import { createHash, createHmac, pbkdf2Sync } from "node:crypto"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { MongoClient } from "mongodb"
import { decodeDocument, doc, encodeDocument } from "../../src/honeypots/mongodb/Bson.js"
import { mongodbHoneypot } from "../../src/honeypots/mongodb/index.js"
import { eventsOf, TestLayer, events as allEvents } from "./support.js"

/** The fields (peer included) of every `type` event so far, each checked against the event contract. */
const events = (type: string) => Effect.map(eventsOf(type), (es) => es.map((e) => e.fields))

/** RFC 5802 ClientProof for a password (MongoDB pre-hashes SCRAM-SHA-1 passwords with MD5). */
const scramProof = (
  mech: string,
  user: string,
  password: string,
  salt: Buffer,
  iterations: number,
  authMessage: string
) => {
  const alg = mech === "SCRAM-SHA-1" ? "sha1" : "sha256"
  const pw =
    mech === "SCRAM-SHA-1" ? createHash("md5").update(`${user}:mongo:${password}`).digest("hex") : password
  const salted = pbkdf2Sync(pw, salt, iterations, alg === "sha1" ? 20 : 32, alg)
  const clientKey = createHmac(alg, salted).update("Client Key").digest()
  const stored = createHash(alg).update(clientKey).digest()
  const sig = createHmac(alg, stored).update(authMessage).digest()
  return Buffer.from(clientKey.map((b, i) => b ^ sig[i]!)).toString("base64")
}

const withClient = <A>(uri: string, f: (c: MongoClient) => Promise<A>) =>
  Effect.promise(async () => {
    const c = new MongoClient(uri, { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000 })
    try {
      return await f(c)
    } finally {
      await c.close(true).catch(() => undefined)
    }
  })

describe("mongodb honeypot", () => {
  for (const mech of ["SCRAM-SHA-256", "SCRAM-SHA-1"])
    it.live(
      `mongodb driver with credentials (${mech}): proof captured and verifiable, auth fails in the driver`,
      () =>
        Effect.gen(function* () {
          const [l] = yield* mongodbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
          const uri = `mongodb://appuser:S3cr3t%21@127.0.0.1:${l!.port}/admin?directConnection=true&serverSelectionTimeoutMS=2000&authMechanism=${mech}`
          const err = yield* withClient(uri, (c) =>
            c.connect().then(
              () => "connected",
              (e: Error) => e.message
            )
          )
          expect(err).toBe("Authentication failed.")
          expect((yield* events("auth_start"))[0]).toMatchObject({
            src_ip: "127.0.0.1",
            mechanism: mech,
            username: "appuser"
          })
          const [auth] = yield* events("auth")
          expect(auth).toMatchObject({
            src_ip: "127.0.0.1",
            username: "appuser",
            principal: "appuser",
            mechanism: mech,
            secret_kind: mech === "SCRAM-SHA-1" ? "scram_sha1" : "scram_sha256"
          })
          const expected = scramProof(
            mech,
            "appuser",
            "S3cr3t!",
            Buffer.from(auth!.salt!, "base64"),
            Number(auth!.iterations),
            auth!.auth_message!
          )
          expect(auth!.secret_printable).toBe(expected)
          expect(auth!.secret_b64).toBe(expected)
          expect(
            scramProof(
              mech,
              "appuser",
              "wrong",
              Buffer.from(auth!.salt!, "base64"),
              Number(auth!.iterations),
              auth!.auth_message!
            )
          ).not.toBe(expected)
          expect((yield* events("message")).length).toBeGreaterThanOrEqual(2)
        }).pipe(Effect.scoped, Effect.provide(TestLayer())),
      30_000
    )

  it.live(
    "unauthenticated buildInfo and listDatabases answer with the seeded persona",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mongodbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const uri = `mongodb://127.0.0.1:${l!.port}/?directConnection=true&serverSelectionTimeoutMS=2000`
        const r = yield* withClient(uri, async (c) => {
          const admin = c.db("admin").admin()
          const info = await admin.buildInfo()
          const dbs = await admin.listDatabases()
          const ping = await admin.ping()
          return { info, dbs, ping }
        })
        expect(r.info.version).toMatch(/^[4-7]\.\d+\.\d+$/)
        expect(r.info.versionArray.slice(0, 3).join(".")).toBe(r.info.version)
        expect(r.dbs.databases.map((d) => d.name).slice(0, 3)).toEqual(["admin", "config", "local"])
        expect(r.ping.ok).toBe(1)
        expect((yield* events("message")).every((m) => m.src_ip === "127.0.0.1")).toBe(true)
        expect(yield* events("auth")).toHaveLength(0)
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    30_000
  )

  it("BSON round-trips and decodeDocument never throws", () => {
    const d = doc([
      ["a", 1],
      ["b", "x"],
      ["c", [1, 2, doc([["d", true]])]],
      ["e", null],
      ["f", 2n ** 40n],
      ["g", 1.5]
    ])
    const [back] = Either.getOrThrow(decodeDocument(encodeDocument(d)))
    expect(back).toEqual(d)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeDocument(Buffer.from(b))
        expect(Either.isLeft(r) || r.right[0] instanceof Map).toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it.live(
    "fuzz: 20,000 mutated OP_MSG/OP_QUERY messages over real sockets",
    () =>
      Effect.gen(function* () {
        const [l] = yield* mongodbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l!.port
        const opMsg = msg(
          2013,
          Buffer.concat([
            Buffer.alloc(4),
            Buffer.from([0]),
            encodeDocument(
              doc([
                ["hello", 1],
                ["saslSupportedMechs", "admin.x"],
                ["$db", "admin"]
              ])
            )
          ])
        )
        const opQuery = msg(
          2004,
          Buffer.concat([
            Buffer.alloc(4),
            Buffer.from("admin.$cmd\0"),
            Buffer.alloc(8),
            encodeDocument(doc([["isMaster", 1]]))
          ])
        )
        const valid = [opMsg, opQuery]
        const cases = fc.sample(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => Buffer.from(b)),
            fc
              .tuple(fc.nat({ max: 1 }), fc.nat({ max: 200 }), fc.integer({ min: 0, max: 255 }))
              .map(([k, i, v]) => {
                const m = Buffer.from(valid[k]!)
                m[i % m.length] = v
                return m
              }),
            fc
              .tuple(fc.nat({ max: 1 }), fc.nat({ max: 200 }))
              .map(([k, n]) => valid[k]!.subarray(0, n % valid[k]!.length))
          ),
          20_000
        )
        const outcome = yield* Effect.promise(() => fuzz(port, cases, 24))
        expect(outcome.hung).toBe(0)
        const es = yield* allEvents
        const count = (type: string) => es.filter((e) => e.type === type).length
        const conns = count("connect")
        expect(conns).toBe(cases.length)
        // One `message` line per decoded frame, never per byte.
        expect(count("message")).toBeLessThanOrEqual(conns)
        const after = yield* withClient(
          `mongodb://127.0.0.1:${port}/?directConnection=true&serverSelectionTimeoutMS=2000`,
          (c) => c.db("admin").admin().buildInfo()
        )
        expect(typeof after.version).toBe("string")
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    120_000
  )
})

const msg = (opcode: number, body: Buffer) => {
  const h = Buffer.alloc(16)
  h.writeInt32LE(body.length + 16, 0)
  h.writeInt32LE(7, 4)
  h.writeInt32LE(opcode, 12)
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
