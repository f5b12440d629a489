import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  berElementLength,
  buildChallenge,
  children,
  derInteger,
  derOctets,
  derSequence,
  md4,
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
