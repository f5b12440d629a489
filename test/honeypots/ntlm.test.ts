import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import {
  type Authenticate,
  berElementLength,
  buildChallenge,
  children,
  derInteger,
  derOctets,
  derSequence,
  md4,
  NtlmAuthFields,
  ntlmAuthFields,
  ntowfv1,
  ntowfv2,
  readTlv,
  readUnsigned
} from "../../src/honeypots/ntlm/index.js"

const identity = {
  netbiosDomain: "CORP",
  netbiosComputer: "FS01",
  dnsDomain: "corp.local",
  dnsComputer: "fs01.corp.local"
}

describe("ntlm helpers", () => {
  it("MD4 matches the RFC 1320 test suite", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
      ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
      ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
      ["message digest", "d9130a8164549fe818874806e1c7014b"],
      ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
      [
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "e33b4ddc9c38f2199c3e7b164fcc0536"
      ]
    ]
    for (const [input, hex] of cases) expect(md4(Buffer.from(input)).toString("hex")).toBe(hex)
  })

  it("NTOWFv1/v2 match MS-NLMP §4.2 test vectors", () => {
    expect(ntowfv1("Password").toString("hex")).toBe("a4f49c406510bdcab6824ee7c30fd852")
    expect(ntowfv2("Password", "User", "Domain").toString("hex")).toBe("0c868a403bfd7a93a3001ef22ef02e3f")
  })

  it("CHALLENGE carries a fresh challenge, the target name and the AV pairs", () => {
    const a = buildChallenge(identity, 0)
    const b = buildChallenge(identity, 0)
    expect(a.serverChallenge.equals(b.serverChallenge)).toBe(false)
    expect(a.message.subarray(0, 12).toString("latin1")).toBe("NTLMSSP\0\x02\0\0\0")
    expect(a.message.subarray(24, 32).equals(a.serverChallenge)).toBe(true)
    const tn = a.message.subarray(
      a.message.readUInt32LE(16),
      a.message.readUInt32LE(16) + a.message.readUInt16LE(12)
    )
    expect(tn.toString("utf16le")).toBe("CORP")
    const ti = a.message.subarray(a.message.readUInt32LE(44)).toString("utf16le")
    expect(ti).toContain("FS01")
    expect(ti).toContain("fs01.corp.local")
  })

  it("DER encodes and decodes, and never throws on garbage", () => {
    const seq = derSequence(derInteger(300), derOctets("x".repeat(200)))
    expect(berElementLength(seq)).toBe(seq.length)
    const parts = children(readTlv(seq)!.value)!
    expect(readUnsigned(parts[0]!.value)).toBe(300)
    expect(parts[1]!.value.length).toBe(200)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const buf = Buffer.from(b)
        const t = readTlv(buf)
        if (t !== undefined) expect(t.totalLength).toBeLessThanOrEqual(buf.length)
        children(buf)
        berElementLength(buf)
      }),
      { numRuns: 5000 }
    )
  })
})

describe("ntlm auth_attempt fields", () => {
  const challenge = Buffer.from("0123456789abcdef", "hex")
  const auth = (nt: Buffer, username = "alice", domain = "CORP"): Authenticate => ({
    domain,
    username,
    workstation: "KALI",
    lmResponse: Buffer.alloc(24, 0x22),
    ntResponse: nt,
    flags: 1
  })
  const encode = Schema.encodeEither(Schema.Struct(NtlmAuthFields))

  it("an NTLMv2 response becomes a -m 5600 capture that encodes under the shared field list", () => {
    const nt = Buffer.alloc(60, 0x11)
    const f = ntlmAuthFields(auth(nt), challenge)
    expect(f).toEqual({
      username: "alice",
      domain: "CORP",
      principal: "CORP\\alice",
      secret_printable: nt.toString("hex"),
      secret_b64: nt.toString("base64"),
      secret_kind: "ntlmssp_v2",
      workstation: "KALI",
      server_challenge: "0123456789abcdef",
      hashcat: `alice::CORP:0123456789abcdef:${nt.subarray(0, 16).toString("hex")}:${nt.subarray(16).toString("hex")}`
    })
    const encoded = encode(f!)
    expect(Either.isRight(encoded) && Object.keys(encoded.right)).toEqual(Object.keys(NtlmAuthFields))
  })

  it("an NTLMv1 response becomes a -m 5500 capture; no domain leaves the bare user as principal", () => {
    const f = ntlmAuthFields(auth(Buffer.alloc(24, 0x33), "bob", ""), challenge)
    expect(f?.secret_kind).toBe("ntlmssp_v1")
    expect(f?.principal).toBe("bob")
    expect(f?.hashcat.startsWith("bob:::" + "22".repeat(24))).toBe(true)
  })

  it("anonymous or odd-sized responses are not captures", () => {
    expect(ntlmAuthFields(auth(Buffer.alloc(0)), challenge)).toBeUndefined()
    expect(ntlmAuthFields(auth(Buffer.alloc(30)), challenge)).toBeUndefined()
  })
})
