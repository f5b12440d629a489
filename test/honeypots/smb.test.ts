import { execFile } from "node:child_process"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as fc from "fast-check"
import { parseAuthenticate, verifyNtlmv2 } from "../../src/honeypots/ntlm/index.js"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { negotiateContexts, smbHoneypot } from "../../src/honeypots/smb/index.js"
import { calledName, encodeName } from "../../src/honeypots/smb/Nbss.js"
import { sessionSetupBlob, smb1Dialects, smb1Header } from "../../src/honeypots/smb/Smb1.js"
import { events as checkedEvents } from "./support.js"

const TestLayer = HoneypotContextLive({ decky: "decky-01", hostname: "fs01" }).pipe(
  Layer.provideMerge(EventSinkMemory)
)

const run = (cmd: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, out: stdout + stderr })
    )
  })

/** Every logged line, held to the event contract (support.ts), as type + fields (peer included). */
const logged = Effect.map(checkedEvents, (es) => es.map((e) => ({ type: e.type, fields: e.fields })))
const events = (lines: ReadonlyArray<{ type: string; fields: Record<string, string> }>, type: string) =>
  lines.filter((l) => l.type === type).map((l) => l.fields)

/** Re-check a hashcat -m 5600 line against the password: NTProofStr = HMAC-MD5(NTOWFv2, challenge‖blob). */
const verifyHashcat = (line: string, password: string): boolean => {
  const [user, , domain, challenge, proof, blob] = line.split(":")
  const nt = Buffer.concat([Buffer.from(proof!, "hex"), Buffer.from(blob!, "hex")])
  return verifyNtlmv2(
    password,
    {
      username: user!,
      domain: domain!,
      workstation: "",
      lmResponse: Buffer.alloc(0),
      ntResponse: nt,
      flags: 1
    },
    Buffer.from(challenge!, "hex")
  )
}

describe("smb honeypot", () => {
  for (const proto of ["SMB3", "SMB2"] as const)
    it.live(
      `smbclient -m ${proto} leaves a crackable NTLMv2 capture that verifies against the password`,
      () =>
        Effect.gen(function* () {
          const [l445] = yield* smbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
          const r = yield* Effect.promise(() =>
            run("smbclient", [
              "-L",
              "//127.0.0.1",
              "-p",
              String(l445!.port),
              "-U",
              "CORP\\alice%Passw0rd",
              "-m",
              proto
            ])
          )
          expect(r.code).not.toBe(0)
          expect(r.out).toContain("NT_STATUS_LOGON_FAILURE")
          const lines = yield* logged
          const auth = events(lines, "auth_attempt")
          expect(auth.length).toBeGreaterThanOrEqual(1)
          const a = auth[0]!
          expect(a.src_ip).toBe("127.0.0.1")
          expect(a.principal).toBe("CORP\\alice")
          expect(a.username).toBe("alice")
          expect(a.domain).toBe("CORP")
          expect(a.secret_kind).toBe("ntlmssp_v2")
          expect(a.dialect).toBe(proto === "SMB3" ? "3.11" : "2.10")
          expect(Buffer.from(a.secret_b64!, "base64").toString("hex")).toBe(a.secret_printable)
          expect(a.hashcat!.startsWith(`alice::CORP:${a.server_challenge}:`)).toBe(true)
          expect(verifyHashcat(a.hashcat!, "Passw0rd")).toBe(true)
          expect(verifyHashcat(a.hashcat!, "passw0rd")).toBe(false)
          expect(events(lines, "connection")[0]!.src_ip).toBe("127.0.0.1")
          // The shared NTLM field list, in SD order, after the runtime's peer; no hand-written peer copy.
          expect(Object.keys(a)).toEqual([
            "src_ip",
            "src_port",
            "username",
            "domain",
            "principal",
            "secret_printable",
            "secret_b64",
            "secret_kind",
            "workstation",
            "server_challenge",
            "hashcat",
            "dialect"
          ])
        }).pipe(Effect.scoped, Effect.provide(TestLayer))
    )

  it.live("each session gets its own SessionId (a constant one would mark the host)", () =>
    Effect.gen(function* () {
      const [l445] = yield* smbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const ids: Array<bigint> = []
      for (let i = 0; i < 2; i++) {
        const replies = yield* Effect.promise(() =>
          exchange(l445!.port, [smb2Negotiate(), sessionSetup(ntlmNegotiate())])
        )
        expect(replies[1]!.readUInt32LE(8)).toBe(0xc0000016)
        ids.push(replies[1]!.readBigUInt64LE(40))
      }
      expect(ids[0]).not.toBe(0n)
      expect(ids[1]).not.toBe(ids[0])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("the NTLM challenge is fresh per connection (the original's fixed challenge was a bug)", () =>
    Effect.gen(function* () {
      const [l445] = yield* smbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      for (let i = 0; i < 2; i++)
        yield* Effect.promise(() =>
          run("smbclient", ["-L", "//127.0.0.1", "-p", String(l445!.port), "-U", "bob%x", "-m", "SMB3"])
        )
      const auth = events(yield* logged, "auth_attempt")
      expect(auth.length).toBeGreaterThanOrEqual(2)
      expect(new Set(auth.map((a) => a.server_challenge)).size).toBe(auth.length)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("port 139 is NetBIOS as on Windows: *SMBSERVER or our name first, else a negative response", () =>
    Effect.gen(function* () {
      const [, l139] = yield* smbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const port = l139!.port
      // RFC 1002 §4.3.2: a session request for *SMBSERVER, then SMB2 on the established session.
      const ok = yield* Effect.promise(() =>
        rawExchange(port, [sessionRequest("*SMBSERVER"), smb2Negotiate()])
      )
      expect(ok.reply.subarray(0, 4).toString("hex")).toBe("82000000")
      expect(ok.reply.subarray(8, 12).toString("hex")).toBe("fe534d42")
      const own = yield* Effect.promise(() => rawExchange(port, [sessionRequest("FS01")]))
      expect(own.reply.toString("hex")).toBe("82000000")
      // A name that is not ours: NEGATIVE SESSION RESPONSE, "called name not present", then close.
      const wrong = yield* Effect.promise(() => rawExchange(port, [sessionRequest("OTHERHOST")]))
      expect(wrong).toEqual({ reply: Buffer.from("8300000182", "hex"), closed: true })
      // SMB straight away (nmap's SMBProgNeg): NEGATIVE, "unspecified error" (nmap: Microsoft Windows netbios-ssn).
      const direct = yield* Effect.promise(() => rawExchange(port, [smb2Negotiate()]))
      expect(direct).toEqual({ reply: Buffer.from("830000018f", "hex"), closed: true })
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  // smbclient sends the NetBIOS session request only when the port is 139 itself.
  it.live.skipIf(process.getuid?.() !== 0)(
    "smbclient on port 139 (*SMBSERVER session request) reaches the NTLM capture",
    () =>
      Effect.gen(function* () {
        yield* smbHoneypot.start({ host: "127.14.7.5", port: (p) => (p === 139 ? 139 : 0) })
        const r = yield* Effect.promise(() =>
          run("smbclient", ["-L", "//127.14.7.5", "-p", "139", "-U", "CORP\\carol%Winter2024", "-m", "SMB3"])
        )
        expect(r.out).toContain("NT_STATUS_LOGON_FAILURE")
        const auth = events(yield* logged, "auth_attempt")
        expect(auth[0]!.principal).toBe("CORP\\carol")
        expect(verifyHashcat(auth[0]!.hashcat!, "Winter2024")).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("SMB1 (NT LM 0.12, extended security) gets Windows' SMB1 NEGOTIATE and the NTLM capture", () =>
    Effect.gen(function* () {
      const [l445] = yield* smbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
      const r = yield* Effect.promise(() =>
        run("smbclient", [
          "-L",
          "//127.0.0.1",
          "-p",
          String(l445!.port),
          "-U",
          "CORP\\dave%Summer2025",
          "-m",
          "NT1",
          "--option=client min protocol=NT1"
        ])
      )
      expect(r.out).toContain("NT_STATUS_LOGON_FAILURE")
      const auth = events(yield* logged, "auth_attempt")
      expect(auth[0]).toMatchObject({ principal: "CORP\\dave", dialect: "NT LM 0.12" })
      expect(verifyHashcat(auth[0]!.hashcat!, "Summer2025")).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("with smb1 off, an SMB1-only NEGOTIATE is reset (Windows Server 2019's default)", () =>
    Effect.gen(function* () {
      const [l445] = yield* smbHoneypot.start({
        host: "127.0.0.1",
        port: () => 0,
        config: { domain: "WORKGROUP", dns_domain: "", smb1: false }
      })
      const r = yield* Effect.promise(() => rawExchange(l445!.port, [smb1NegotiateNtlm012()]))
      expect(r).toEqual({ reply: Buffer.alloc(0), closed: true, reset: true })
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it("parseAuthenticate never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.concat([Buffer.from("NTLMSSP\0\x03\0\0\0", "latin1"), Buffer.from(bytes)])
        const r = parseAuthenticate(b)
        expect(Either.isLeft(r) || typeof r.right.username === "string").toBe(true)
      }),
      { numRuns: 2000 }
    )
  })

  it("the NetBIOS, SMB1 and negotiate-context parsers never throw and stay in bounds", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, smbHead) => {
        const b = Buffer.from(bytes)
        const called = calledName(b)
        expect(called === undefined || (called.name.length <= 15 && called.suffix <= 255)).toBe(true)
        // An SMB1 message: the magic first, so the header and word parsers are exercised.
        const m = smbHead ? Buffer.concat([Buffer.from([0xff, 0x53, 0x4d, 0x42, 0x72]), b]) : b
        expect(smb1Dialects(m).length).toBeLessThanOrEqual(64)
        const blob = sessionSetupBlob(m)
        expect(blob === undefined || blob.length <= m.length).toBe(true)
        const h = smb1Header(m)
        expect(h === undefined || h.command === m[4]).toBe(true)
        const s2 = Buffer.concat([Buffer.from([0xfe, 0x53, 0x4d, 0x42]), b])
        expect(negotiateContexts(s2).length).toBeLessThanOrEqual(16)
      }),
      { numRuns: 5000 }
    )
    // Round trip: a client's encoding of our name decodes to it.
    expect(calledName(encodeName("FS01"))).toEqual({ name: "FS01", suffix: 0x20 })
    expect(calledName(encodeName("*SMBSERVER"))).toEqual({ name: "*SMBSERVER", suffix: 0x20 })
  })

  it.live(
    "fuzz: 20,000 mutated NEGOTIATE / SESSION_SETUP(NTLM) flows over real sockets; the service keeps answering",
    () =>
      Effect.gen(function* () {
        const [l445] = yield* smbHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = l445!.port
        const flow = [smb2Negotiate(), sessionSetup(ntlmNegotiate()), sessionSetup(ntlmAuthenticate())]
        const whole = Buffer.concat(flow)
        const cases = fc.sample(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
            fc
              .tuple(fc.nat({ max: whole.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean())
              .map(([i, v, twice]) => {
                const m = Buffer.from(whole)
                m[i] = v
                if (twice) m[(i * 7 + 13) % m.length] = v ^ 0xff
                return m
              }),
            fc.nat({ max: whole.length - 1 }).map((n) => whole.subarray(0, n))
          ),
          20_000
        )
        const outcome = yield* Effect.promise(() => fuzz(port, cases, 24))
        expect(outcome.hung).toBe(0)
        const lines = yield* logged
        const conns = events(lines, "connection").length
        expect(conns).toBe(cases.length)
        // Malformed input is logged at most once per connection, and many mutants still log in.
        expect(events(lines, "error").length + events(lines, "auth_attempt").length).toBeLessThanOrEqual(
          conns
        )
        expect(events(lines, "auth_attempt").length).toBeGreaterThan(0)
        // Still serving a real client afterwards.
        const r = yield* Effect.promise(() =>
          run("smbclient", [
            "-L",
            "//127.0.0.1",
            "-p",
            String(port),
            "-U",
            "CORP\\alice%Passw0rd",
            "-m",
            "SMB3"
          ])
        )
        expect(r.out).toContain("NT_STATUS_LOGON_FAILURE")
      }).pipe(Effect.scoped, Effect.provide(TestLayer)),
    // 20,000 connections plus a contract check of every line they logged; a shared 2-core box is slow.
    300_000
  )
})

const nbssFrame = (msg: Buffer) => {
  const nb = Buffer.alloc(4)
  nb.writeUInt32BE(msg.length)
  return Buffer.concat([nb, msg])
}

/** SMB2 SESSION_SETUP carrying a raw NTLMSSP token (the server finds the signature in any wrapping). */
const sessionSetup = (token: Buffer) => {
  const h = Buffer.alloc(64)
  Buffer.from([0xfe, 0x53, 0x4d, 0x42]).copy(h)
  h.writeUInt16LE(64, 4)
  h.writeUInt16LE(1, 12)
  const body = Buffer.alloc(24)
  body.writeUInt16LE(25, 0)
  body.writeUInt16LE(64 + 24, 12)
  body.writeUInt16LE(token.length, 14)
  return nbssFrame(Buffer.concat([h, body, token]))
}

const ntlmNegotiate = () => {
  const m = Buffer.alloc(32)
  m.write("NTLMSSP\0", "latin1")
  m.writeUInt32LE(1, 8)
  m.writeUInt32LE(0xe2088297, 12)
  return m
}

/** An AUTHENTICATE with a 60-byte (NTLMv2-shaped) response. */
const ntlmAuthenticate = () => {
  const d = Buffer.from("CORP", "utf16le")
  const u = Buffer.from("fuzz", "utf16le")
  const nt = Buffer.alloc(60, 0x11)
  const head = Buffer.alloc(64)
  head.write("NTLMSSP\0", "latin1")
  head.writeUInt32LE(3, 8)
  let off = 64
  for (const [at, b] of [
    [28, d],
    [36, u],
    [20, nt]
  ] as const) {
    head.writeUInt16LE(b.length, at)
    head.writeUInt16LE(b.length, at + 2)
    head.writeUInt32LE(off, at + 4)
    off += b.length
  }
  head.writeUInt32LE(0xe2888215, 60)
  return Buffer.concat([head, d, u, nt])
}

/** Send `frames` one at a time over one connection, collecting one NBSS reply (payload) for each. */
const exchange = (port: number, frames: ReadonlyArray<Buffer>) =>
  new Promise<Array<Buffer>>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1")
    const replies: Array<Buffer> = []
    let buf = Buffer.alloc(0)
    let next = 0
    const sendNext = () => {
      if (next < frames.length) s.write(frames[next++]!)
      else {
        s.destroy()
        resolve(replies)
      }
    }
    s.on("connect", sendNext)
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 4 && buf.length >= 4 + (buf.readUInt32BE(0) & 0xffffff)) {
        const end = 4 + (buf.readUInt32BE(0) & 0xffffff)
        replies.push(buf.subarray(4, end))
        buf = buf.subarray(end)
        sendNext()
      }
    })
    s.on("error", reject)
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
 * A real SMB2 NEGOTIATE request framed in NBSS (dialects 2.02–3.11), with the preauth-integrity and
 * encryption contexts a 3.1.1 client must send (MS-SMB2 §2.2.3.1).
 */
const smb2Negotiate = (): Buffer => {
  const h = Buffer.alloc(64)
  Buffer.from([0xfe, 0x53, 0x4d, 0x42]).copy(h)
  h.writeUInt16LE(64, 4)
  const dialects = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]
  const body = Buffer.alloc(36 + dialects.length * 2)
  body.writeUInt16LE(36, 0)
  body.writeUInt16LE(dialects.length, 2)
  for (const [i, d] of dialects.entries()) body.writeUInt16LE(d, 36 + i * 2)
  // Contexts start 8-aligned from the header: 64 + 36 + 10 = 110 → 112.
  const preauth = Buffer.from("0100260000000000" + "01002000" + "0100" + "11".repeat(32), "hex")
  const encryption = Buffer.from("0200060000000000" + "0200" + "0200" + "0100", "hex")
  body.writeUInt32LE(112, 28)
  body.writeUInt16LE(2, 32)
  return nbssFrame(Buffer.concat([h, body, Buffer.alloc(2), preauth, Buffer.alloc(2), encryption]))
}

/** RFC 1002 §4.3.2 SESSION REQUEST from NMAP to `called` (suffix 0x20, the server service). */
const sessionRequest = (called: string): Buffer => {
  const body = Buffer.concat([encodeName(called), encodeName("NMAP", 0x00)])
  return Buffer.concat([Buffer.from([0x81, 0, 0, body.length]), body])
}

/** nmap's SMBProgNeg shape: an SMB1 NEGOTIATE offering only SMB1 dialects, "NT LM 0.12" last. */
const smb1NegotiateNtlm012 = (): Buffer => {
  const dialects = Buffer.from("\x02LANMAN1.0\0\x02NT LM 0.12\0", "latin1")
  const h = Buffer.alloc(35)
  Buffer.from([0xff, 0x53, 0x4d, 0x42, 0x72]).copy(h)
  h[9] = 0x08
  h.writeUInt16LE(0x4001, 10)
  h.writeUInt16LE(dialects.length, 33)
  return nbssFrame(Buffer.concat([h, dialects]))
}

/** Send each frame (the next once a reply arrived, or after 300 ms); the bytes until close or 500 ms of quiet. */
const rawExchange = (port: number, frames: ReadonlyArray<Buffer>) =>
  new Promise<{ reply: Buffer; closed: boolean; reset?: boolean }>((resolve) => {
    const s = net.connect(port, "127.0.0.1")
    let reply = Buffer.alloc(0)
    let next = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    let reset = false
    const done = (closed: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve(reset ? { reply, closed, reset } : { reply, closed })
    }
    const step = () => {
      clearTimeout(timer)
      if (next < frames.length) {
        s.write(frames[next++]!)
        timer = setTimeout(step, 300)
      } else timer = setTimeout(() => done(false), 500)
    }
    s.on("connect", step)
    s.on("data", (d) => {
      reply = Buffer.concat([reply, d])
      step()
    })
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET") reset = true
    })
    s.on("close", () => done(true))
  })
