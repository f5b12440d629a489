import { execFile } from "node:child_process"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as fc from "fast-check"
import { ldapHoneypot } from "../../src/honeypots/ldap/index.js"
import { decodeMessage } from "../../src/honeypots/ldap/Ldap.js"
import { children, readTlv } from "../../src/honeypots/ntlm/Der.js"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { events as allEvents, eventsOf } from "./support.js"

const TestLayer = () =>
  HoneypotContextLive({ decky: "decky-01", hostname: "dc01.corp.local" }).pipe(
    Layer.provideMerge(EventSinkMemory)
  )

const ldapsearch = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      "ldapsearch",
      [...args],
      { timeout: 20_000, env: { ...process.env, LDAPTLS_REQCERT: "never" } },
      (err, stdout, stderr) =>
        resolve({
          code: err === null ? 0 : typeof err.code === "number" ? err.code : -1,
          out: stdout + stderr
        })
    )
  })

/** The fields (peer included) of every `type` event so far, each checked against the event contract. */
const events = (type: string) => Effect.map(eventsOf(type), (es) => es.map((e) => e.fields))

describe("ldap honeypot", () => {
  for (const scheme of ["ldap", "ldaps", "starttls"] as const)
    it.live(
      `ldapsearch simple bind over ${scheme}: bind event with DN and password, invalidCredentials (49)`,
      () =>
        Effect.gen(function* () {
          const [l389, l636] = yield* ldapHoneypot.start({ host: "127.0.0.1", port: () => 0 })
          const uri =
            scheme === "ldaps" ? `ldaps://127.0.0.1:${l636!.port}` : `ldap://127.0.0.1:${l389!.port}`
          const r = yield* Effect.promise(() =>
            ldapsearch([
              "-x",
              ...(scheme === "starttls" ? ["-ZZ"] : []),
              "-H",
              uri,
              "-D",
              "cn=admin,dc=corp,dc=local",
              "-w",
              "Secret",
              "-b",
              "",
              "-s",
              "base"
            ])
          )
          expect(r.code).toBe(49)
          expect(r.out).toContain("Invalid credentials (49)")
          const [bind] = yield* events("bind")
          expect(bind).toMatchObject({
            src_ip: "127.0.0.1",
            dn: "cn=admin,dc=corp,dc=local",
            principal: "cn=admin,dc=corp,dc=local",
            secret_kind: "plaintext",
            secret_printable: "Secret",
            version: "3"
          })
          expect(Buffer.from(bind!.secret_b64!, "base64").toString()).toBe("Secret")
          expect(bind!.src).toBeUndefined()
          expect((yield* events("connect"))[0]!.tls).toBe(scheme === "ldaps" ? "true" : "false")
        }).pipe(Effect.scoped, Effect.provide(TestLayer())),
      30_000
    )

  it.live(
    "anonymous rootDSE search returns the AD naming contexts; other searches need a bind",
    () =>
      Effect.gen(function* () {
        const [l389] = yield* ldapHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const uri = `ldap://127.0.0.1:${l389!.port}`
        const root = yield* Effect.promise(() => ldapsearch(["-x", "-H", uri, "-b", "", "-s", "base"]))
        expect(root.code).toBe(0)
        expect(root.out).toContain("namingContexts: DC=corp,DC=local")
        expect(root.out).toContain("dnsHostName: dc01.corp.local")
        expect(root.out).toContain("defaultNamingContext: DC=corp,DC=local")
        const some = yield* Effect.promise(() =>
          ldapsearch(["-x", "-H", uri, "-b", "", "-s", "base", "namingContexts"])
        )
        expect(some.out).toContain("namingContexts:")
        expect(some.out).not.toContain("dnsHostName")
        const deep = yield* Effect.promise(() =>
          ldapsearch([
            "-x",
            "-H",
            uri,
            "-b",
            "DC=corp,DC=local",
            "(&(objectClass=user)(sAMAccountName=adm*))",
            "cn"
          ])
        )
        expect(deep.code).toBe(1)
        expect(deep.out).toContain("successful bind must be completed")
        const searches = yield* events("search")
        expect(searches.at(-1)).toMatchObject({
          base: "DC=corp,DC=local",
          scope: "2",
          filter: "(&(objectClass=user)(sAMAccountName=adm*))",
          attributes: '["cn"]'
        })
      }).pipe(Effect.scoped, Effect.provide(TestLayer())),
    30_000
  )

  it.live(
    "a single-label domain in the hostname becomes <label>.local (AD names have two labels or more)",
    () =>
      Effect.gen(function* () {
        const [l389] = yield* ldapHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const root = yield* Effect.promise(() =>
          ldapsearch([
            "-x",
            "-H",
            `ldap://127.0.0.1:${l389!.port}`,
            "-b",
            "",
            "-s",
            "base",
            "defaultNamingContext"
          ])
        )
        expect(root.out).toContain("defaultNamingContext: DC=lan,DC=local")
      }).pipe(
        Effect.scoped,
        Effect.provide(
          HoneypotContextLive({ decky: "decky-02", hostname: "dc02.lan" }).pipe(
            Layer.provideMerge(EventSinkMemory)
          )
        )
      )
  )

  it.live(
    "an anonymous bind is a login: the pre-login grace no longer applies, while a refused bind keeps it",
    () =>
      Effect.gen(function* () {
        const [l389] = yield* ldapHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l389!.port
        // BindRequest (RFC 4511 §4.2), message id 1, version 3: empty DN and password = anonymous.
        const anonymousBind = Buffer.from("300c020101600702010304008000", "hex")
        const dn = Buffer.from("cn=x,dc=y")
        const bindBody = Buffer.concat([
          Buffer.from([0x02, 0x01, 0x03, 0x04, dn.length]),
          dn,
          Buffer.from([0x80, 0x02]),
          Buffer.from("pw")
        ])
        const refusedBind = Buffer.concat([
          Buffer.from([0x30, bindBody.length + 5, 0x02, 0x01, 0x01, 0x60, bindBody.length]),
          bindBody
        ])
        const rootDse = Buffer.from(
          "3025020102632004000a01000a0100020100020100010100870b6f626a656374636c6173733000",
          "hex"
        )
        const [anonymous, refused] = yield* Effect.all(
          [
            Effect.promise(() => bindThenSearch(port, anonymousBind, rootDse, 1500)),
            Effect.promise(() => bindThenSearch(port, refusedBind, rootDse, 1500))
          ],
          { concurrency: 2 }
        )
        // BindResponse resultCode (RFC 4511 §4.1.9): 0 success, 49 invalidCredentials.
        expect(anonymous.bindResult).toBe(0)
        expect(anonymous.searchAnswered).toBe(true)
        expect(refused.bindResult).toBe(49)
        expect(refused.searchAnswered).toBe(false)
        const closed = yield* events("connection_closed")
        expect(closed).toHaveLength(1)
        expect(closed[0]).toMatchObject({ reason: "login_grace", src_port: String(refused.localPort) })
      }).pipe(
        Effect.scoped,
        Effect.provide(
          HoneypotContextLive({
            decky: "decky-01",
            hostname: "dc01.corp.local",
            limits: { loginGraceMs: 700 }
          }).pipe(Layer.provideMerge(EventSinkMemory))
        )
      ),
    30_000
  )

  it("decodeMessage never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeMessage(Buffer.concat([Buffer.from([0x30, b.length & 0x7f]), Buffer.from(b)]))
        expect(Either.isLeft(r) || typeof r.right.id === "number").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it.live(
    "fuzz: 20,000 mutated Bind/Search requests over real sockets",
    () =>
      Effect.gen(function* () {
        const [l389] = yield* ldapHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l389!.port
        const dn = Buffer.from("cn=admin,dc=corp,dc=local")
        const bindReq = Buffer.concat([
          Buffer.from([
            0x30,
            12 + dn.length + 6,
            0x02,
            0x01,
            0x01,
            0x60,
            7 + dn.length + 6,
            0x02,
            0x01,
            0x03,
            0x04,
            dn.length
          ]),
          dn,
          Buffer.from([0x80, 0x06]),
          Buffer.from("Secret")
        ])
        const search = Buffer.from(
          "3025020102632004000a01000a0100020100020100010100870b6f626a656374636c6173733000",
          "hex"
        )
        const valid = [bindReq, search, Buffer.concat([bindReq, search])]
        const cases = fc.sample(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => Buffer.from(b)),
            fc
              .tuple(fc.nat({ max: 2 }), fc.nat({ max: 200 }), fc.integer({ min: 0, max: 255 }))
              .map(([k, i, v]) => {
                const m = Buffer.from(valid[k]!)
                m[i % m.length] = v
                return m
              }),
            fc
              .tuple(fc.nat({ max: 2 }), fc.nat({ max: 200 }))
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
        expect(count("error")).toBeLessThanOrEqual(conns)
        expect(count("bind")).toBeGreaterThan(0)
        const r = yield* Effect.promise(() =>
          ldapsearch([
            "-x",
            "-H",
            `ldap://127.0.0.1:${port}`,
            "-D",
            "cn=x,dc=y",
            "-w",
            "z",
            "-b",
            "",
            "-s",
            "base"
          ])
        )
        expect(r.code).toBe(49)
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

/**
 * Bind, wait `waitMs`, then send `search`: the BindResponse's resultCode, and whether the search was
 * still answered (the connection outlived the wait).
 */
const bindThenSearch = (port: number, bind: Buffer, search: Buffer, waitMs: number) =>
  new Promise<{ bindResult: number; searchAnswered: boolean; localPort: number }>((resolve) => {
    let localPort = 0
    const s = net.connect(port, "127.0.0.1", () => {
      localPort = s.localPort ?? 0
      s.write(bind)
    })
    let bindResult = -1
    let searched = false
    let searchAnswered = false
    const finish = () => {
      s.destroy()
      resolve({ bindResult, searchAnswered, localPort })
    }
    s.on("data", (d) => {
      if (!searched) {
        // LDAPMessage { messageID, BindResponse { resultCode ENUMERATED, … } }: AD's 4-byte lengths.
        const op = children(readTlv(d)?.value ?? Buffer.alloc(0))?.[1]
        bindResult = children(op?.value ?? Buffer.alloc(0))?.[0]?.value[0] ?? -1
        searched = true
        setTimeout(() => {
          if (!s.destroyed) s.write(search)
          setTimeout(finish, 1000)
        }, waitMs)
      } else searchAnswered = true
    })
    s.on("error", () => undefined)
    s.on("close", () => {
      if (searched) setTimeout(finish, 0)
      else finish()
    })
  })
