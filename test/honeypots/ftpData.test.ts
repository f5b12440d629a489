import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { safeBasename, storedName } from "../../src/honeypots/ftp/Capture.js"
import { allowedActiveTarget, parseEprt, parsePort } from "../../src/honeypots/ftp/Data.js"

describe("ftp data-connection and quarantine helpers", () => {
  it("PORT / EPRT parsing (RFC 959 §4.1.2, RFC 2428 §2)", () => {
    expect(parsePort("127,0,0,1,4,1")).toEqual({ host: "127.0.0.1", port: 1025 })
    expect(parsePort(" 10,1,2,3,255,255 ")).toEqual({ host: "10.1.2.3", port: 65535 })
    for (const bad of [
      "127,0,0,1,4",
      "127,0,0,1,4,1,1",
      "256,0,0,1,4,1",
      "a,b,c,d,e,f",
      "1,2,3,4,5,-1",
      "",
      "1,2,3,4,5,1000"
    ])
      expect(parsePort(bad)).toBeUndefined()
    expect(parseEprt("|1|132.235.1.2|6275|")).toEqual({ host: "132.235.1.2", port: 6275 })
    expect(parseEprt("|2|1080::8:800:200C:417A|5282|")).toEqual({ host: "1080::8:800:200C:417A", port: 5282 })
    expect(parseEprt("!1!10.0.0.1!2000!")).toEqual({ host: "10.0.0.1", port: 2000 })
    for (const bad of [
      "|1|::1|5282|",
      "|2|10.0.0.1|5282|",
      "|3|10.0.0.1|1|",
      "|1|10.0.0.1|0|",
      "|1|10.0.0.1|70000|",
      "1|1|1.2.3.4|5|",
      "|1|1.2.3.4|5",
      ""
    ])
      expect(parseEprt(bad)).toBeUndefined()
  })

  it("active targets: only the control peer's own address, only unprivileged ports", () => {
    expect(allowedActiveTarget({ host: "127.0.0.1", port: 1025 }, "127.0.0.1")).toBe(true)
    expect(allowedActiveTarget({ host: "127.0.0.1", port: 1023 }, "127.0.0.1")).toBe(false)
    expect(allowedActiveTarget({ host: "127.0.0.2", port: 4000 }, "127.0.0.1")).toBe(false)
    expect(allowedActiveTarget({ host: "0:0:0:0:0:0:0:1", port: 4000 }, "::1")).toBe(true)
    expect(allowedActiveTarget({ host: "::ffff:127.0.0.1", port: 4000 }, "127.0.0.1")).toBe(false)
    expect(allowedActiveTarget({ host: "::1", port: 4000 }, "127.0.0.1")).toBe(false)
  })

  it("property: parsers never throw; an allowed target is the peer itself on a port ≥ 1024", () => {
    const peer = fc.constantFrom("127.0.0.1", "198.51.100.7", "::1", "2001:db8::5")
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), peer, (arg, p) => {
        for (const t of [parsePort(arg), parseEprt(arg)]) {
          if (t === undefined) continue
          expect(t.port).toBeGreaterThanOrEqual(0)
          expect(t.port).toBeLessThanOrEqual(65535)
          if (allowedActiveTarget(t, p)) {
            expect(t.port).toBeGreaterThanOrEqual(1024)
            expect(t.host.toLowerCase().replace(/^0:0:0:0:0:0:0:1$/, "::1")).toBe(p)
          }
        }
      }),
      { numRuns: 5000 }
    )
    // Well-formed commands aimed elsewhere are always refused.
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const t = parsePort(`${ip.split(".").join(",")},${port >> 8},${port & 0xff}`)
        expect(t).toEqual({ host: ip, port })
        expect(allowedActiveTarget(t!, "127.0.0.1")).toBe(ip === "127.0.0.1" && port >= 1024)
      })
    )
  })

  it("property: a stored name is one flat, safe path segment whatever the client called the file", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }),
        (name, sha) => {
          const base = safeBasename(name)
          expect(base).toMatch(/^[A-Za-z0-9._-]{1,100}$/)
          expect(base).not.toMatch(/^\.+$/)
          expect(storedName(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), sha, name)).toBe(
            `20240102T030405Z_${sha.slice(0, 12)}_${base}`
          )
        }
      ),
      { numRuns: 3000 }
    )
    expect(safeBasename("../../etc/passwd")).toBe("passwd")
    expect(safeBasename("C:\\Windows\\evil.exe")).toBe("evil.exe")
    expect(safeBasename("..")).toBe("unnamed")
    expect(safeBasename("x/")).toBe("x")
  })
})
