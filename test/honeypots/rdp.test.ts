import { createHmac, randomBytes } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as fc from "fast-check"
import { children, derInteger, derOctets, derSequence, readTlv, tlv } from "../../src/honeypots/ntlm/Der.js"
import { ntowfv2, verifyNtlmv2 } from "../../src/honeypots/ntlm/index.js"
import { negoToken, parseConnectionRequest, rdpHoneypot } from "../../src/honeypots/rdp/index.js"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { events as checkedEvents } from "./support.js"

const TestLayer = HoneypotContextLive({ decky: "decky-01", hostname: "ws01" }).pipe(
  Layer.provideMerge(EventSinkMemory)
)

/** Every logged line, held to the event contract (support.ts), as type + fields (peer included). */
const logged = Effect.map(checkedEvents, (es) => es.map((e) => ({ type: e.type, fields: e.fields })))
const events = (lines: ReadonlyArray<{ type: string; fields: Record<string, string> }>, type: string) =>
  lines.filter((l) => l.type === type).map((l) => l.fields)

/** X.224 Connection Request as mstsc sends it: cookie line + RDP_NEG_REQ. */
const connectionRequest = (cookie: string | undefined, requested: number) => {
  const variable = Buffer.concat([
    cookie === undefined ? Buffer.alloc(0) : Buffer.from(`Cookie: mstshash=${cookie}\r\n`),
    Buffer.from([0x01, 0x00, 0x08, 0x00, requested, 0, 0, 0])
  ])
  const x224 = Buffer.concat([Buffer.from([6 + variable.length, 0xe0, 0, 0, 0, 0, 0]), variable])
  const tpkt = Buffer.from([3, 0, 0, 0])
  tpkt.writeUInt16BE(x224.length + 4, 2)
  return Buffer.concat([tpkt, x224])
}

/** Send a CR; resolve with the Connection Confirm and the open socket. */
const connect = (port: number, cookie: string | undefined, requested: number) =>
  new Promise<{ cc: Buffer; socket: net.Socket }>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(connectionRequest(cookie, requested)))
    s.once("data", (d) => resolve({ cc: d, socket: s }))
    s.on("error", reject)
  })

const tsRequest = (token: Buffer) =>
  derSequence(tlv(0xa0, derInteger(6)), tlv(0xa1, derSequence(derSequence(tlv(0xa0, derOctets(token))))))

const negotiateMessage = () => {
  const m = Buffer.alloc(32)
  m.write("NTLMSSP\0", "latin1")
  m.writeUInt32LE(1, 8)
  m.writeUInt32LE(0xe2088297, 12)
  return m
}

/** A client AUTHENTICATE with an NTLMv2 response computed from the password (MS-NLMP §3.3.2). */
const authenticateMessage = (challengeMsg: Buffer, user: string, domain: string, password: string) => {
  const serverChallenge = challengeMsg.subarray(24, 32)
  const tiLen = challengeMsg.readUInt16LE(40)
  const tiOff = challengeMsg.readUInt32LE(44)
  const targetInfo = challengeMsg.subarray(tiOff, tiOff + tiLen)
  const ts = Buffer.alloc(8)
  ts.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n)
  const blob = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]),
    ts,
    randomBytes(8),
    Buffer.alloc(4),
    targetInfo,
    Buffer.alloc(4)
  ])
  const proof = createHmac("md5", ntowfv2(password, user, domain))
    .update(serverChallenge)
    .update(blob)
    .digest()
  const nt = Buffer.concat([proof, blob])
  const d = Buffer.from(domain, "utf16le")
  const u = Buffer.from(user, "utf16le")
  const w = Buffer.from("KALI", "utf16le")
  const lm = Buffer.alloc(24)
  const head = Buffer.alloc(64)
  head.write("NTLMSSP\0", "latin1")
  head.writeUInt32LE(3, 8)
  let off = 64
  const field = (at: number, b: Buffer) => {
    head.writeUInt16LE(b.length, at)
    head.writeUInt16LE(b.length, at + 2)
    head.writeUInt32LE(off, at + 4)
    off += b.length
  }
  field(28, d)
  field(36, u)
  field(44, w)
  field(12, lm)
  field(20, nt)
  field(52, Buffer.alloc(0))
  head.writeUInt32LE(0xe2888215, 60)
  return Buffer.concat([head, d, u, w, lm, nt])
}

const readDer = (s: tls.TLSSocket) =>
  new Promise<Buffer>((resolve) => {
    let buf = Buffer.alloc(0)
    const on = (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      const t = readTlv(buf)
      if (t !== undefined) {
        s.off("data", on)
        resolve(buf.subarray(0, t.totalLength))
      }
    }
    s.on("data", on)
  })

describe("rdp honeypot", () => {
  it.live(
    "X.224 CR with Cookie: mstshash=attacker → rdp_cookie event, CC selecting HYBRID_EX as Windows does",
    () =>
      Effect.gen(function* () {
        const [l] = yield* rdpHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const { cc, socket } = yield* Effect.promise(() => connect(l!.port, "attacker", 0x0b))
        socket.destroy()
        // mstsc offers SSL|HYBRID|HYBRID_EX (0x0b): Windows picks HYBRID_EX, flags 0x1f (was PROTOCOL_RDP, flags 0).
        expect(cc.toString("hex")).toBe("030000130ed00000123400021f080008000000")
        const lines = yield* logged
        expect(events(lines, "rdp_cookie")[0]).toEqual({
          src_ip: "127.0.0.1",
          src_port: expect.any(String),
          requested_protocols: "11",
          username: "attacker",
          principal: "attacker"
        })
        expect(events(lines, "connection")[0]!.src_ip).toBe("127.0.0.1")
      }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a CR without a cookie logs connection_request", () =>
    Effect.gen(function* () {
      const [l] = yield* rdpHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const { socket } = yield* Effect.promise(() => connect(l!.port, undefined, 0x03))
      socket.destroy()
      const [e] = events(yield* logged, "connection_request")
      expect(e).toMatchObject({ src_ip: "127.0.0.1", requested_protocols: "3" })
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live(
    "nla=true: CredSSP over TLS captures an NTLMv2 AUTHENTICATE that verifies against the password",
    () =>
      Effect.gen(function* () {
        const [l] = yield* rdpHoneypot.start({ host: "127.0.0.1", port: () => 0, config: { nla: true } })
        const { cc, socket } = yield* Effect.promise(() => connect(l!.port, "bob", 0x03))
        expect(cc.readUInt32LE(15)).toBe(2)
        const errorCode = yield* Effect.promise(async () => {
          const t = tls.connect({ socket, rejectUnauthorized: false })
          await new Promise((r) => t.once("secureConnect", r))
          t.write(tsRequest(negotiateMessage()))
          const reply = negoToken(await readDer(t))
          t.write(tsRequest(authenticateMessage(reply!, "bob", "CORP", "Summer2025!")))
          const final = await readDer(t)
          t.destroy()
          const f = children(readTlv(final)!.value)!.find((x) => x.tag === 0xa4)
          return readTlv(f!.value)!.value.readUInt32BE(0)
        })
        expect(errorCode).toBe(0xc000006d)
        const [a] = events(yield* logged, "auth_attempt")
        expect(a).toMatchObject({
          src_ip: "127.0.0.1",
          principal: "CORP\\bob",
          secret_kind: "ntlmssp_v2",
          auth_path: "nla",
          workstation: "KALI"
        })
        // Same field list as smb's auth_attempt (ntlm/Events.ts), then rdp's own.
        expect(Object.keys(a!).slice(2)).toEqual([
          "username",
          "domain",
          "principal",
          "secret_printable",
          "secret_b64",
          "secret_kind",
          "workstation",
          "server_challenge",
          "hashcat",
          "auth_path"
        ])
        const nt = Buffer.from(a!.secret_b64!, "base64")
        const auth = {
          username: "bob",
          domain: "CORP",
          workstation: "",
          lmResponse: Buffer.alloc(0),
          ntResponse: nt,
          flags: 1
        }
        expect(verifyNtlmv2("Summer2025!", auth, Buffer.from(a!.server_challenge!, "hex"))).toBe(true)
        expect(verifyNtlmv2("summer2025!", auth, Buffer.from(a!.server_challenge!, "hex"))).toBe(false)
      }).pipe(Effect.scoped, Effect.provide(TestLayer)),
    30_000
  )

  it.live("nla=true with a bad supplied certificate fails the start, naming the listener", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        rdpHoneypot.start({
          host: "127.0.0.1",
          port: () => 0,
          config: {
            nla: true,
            tls_cert: "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n",
            tls_key: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
          }
        })
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("HoneypotListenError")
      expect(yield* logged).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it("parseConnectionRequest never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const r = parseConnectionRequest(Buffer.from(b))
        expect(r === undefined || typeof r === "object").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it.live(
    "fuzz: 20,000 mutated TPKT/X.224 requests over real sockets",
    () =>
      Effect.gen(function* () {
        const [l] = yield* rdpHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l!.port
        const valid = connectionRequest("fuzzer", 0x0b)
        const cases = fc.sample(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => Buffer.from(b)),
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
        const fuzzLines = yield* logged
        const conns = events(fuzzLines, "connection").length
        expect(conns).toBe(cases.length)
        const once = ["rdp_cookie", "connection_request", "error"].reduce(
          (n, t) => n + events(fuzzLines, t).length,
          0
        )
        expect(once).toBeLessThanOrEqual(conns)
        expect(events(fuzzLines, "rdp_cookie").length).toBeGreaterThan(0)
        const { cc, socket } = yield* Effect.promise(() => connect(port, "after", 1))
        socket.destroy()
        expect(cc.length).toBe(19)
      }).pipe(Effect.scoped, Effect.provide(TestLayer)),
    // 20,000 connections plus a contract check of every line they logged; a shared 2-core box is slow.
    300_000
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
