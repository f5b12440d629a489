import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { safeBasename, storedName } from "../../src/honeypots/ftp/Capture.js"
import { allowedActiveTarget, parseEprt, parsePort } from "../../src/honeypots/ftp/Data.js"
import { diskRoom, type Reservation, reserve, type Usage } from "../../src/honeypots/ftp/Quota.js"

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

  it("property: budgets are never passed, and released uploads give everything back", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("open" as const), session: fc.nat(2) }),
      fc.record({ kind: fc.constant("add" as const), upload: fc.nat(20), bytes: fc.nat(400) }),
      fc.record({ kind: fc.constant("release" as const), upload: fc.nat(20) }),
      fc.record({ kind: fc.constant("keep" as const), upload: fc.nat(20) })
    )
    fc.assert(
      fc.property(
        fc.record({
          sessionBytes: fc.nat(2000),
          sessionFiles: fc.nat(5),
          instanceBytes: fc.nat(3000),
          instanceFiles: fc.nat(8)
        }),
        fc.array(op, { maxLength: 200 }),
        (limits, ops) => {
          const sessions: Array<Usage> = [0, 1, 2].map(() => ({ bytes: 0, files: 0 }))
          const instance: Usage = { bytes: 0, files: 0 }
          const open: Array<{ r: Reservation; session: number; bytes: number }> = []
          const kept: Array<{ session: number; bytes: number }> = []
          for (const o of ops) {
            if (o.kind === "open") {
              const r = reserve(limits, sessions[o.session]!, instance)
              if (typeof r !== "string") open.push({ r, session: o.session, bytes: 0 })
              else
                expect(
                  r === "session_files"
                    ? sessions[o.session]!.files >= limits.sessionFiles
                    : r === "instance_files"
                      ? instance.files >= limits.instanceFiles
                      : r === "session_bytes"
                        ? sessions[o.session]!.bytes >= limits.sessionBytes
                        : instance.bytes >= limits.instanceBytes
                ).toBe(true)
            } else {
              const u = open[o.upload % Math.max(open.length, 1)]
              if (u === undefined) continue
              if (o.kind === "add") {
                if (u.r.add(o.bytes) === undefined) u.bytes += o.bytes
              } else {
                open.splice(open.indexOf(u), 1)
                if (o.kind === "release") u.r.release()
                else kept.push({ session: u.session, bytes: u.bytes })
                // Releasing twice (or after keeping) must not give anything back again.
                if (o.kind === "release") u.r.release()
              }
            }
            expect(instance.bytes).toBeLessThanOrEqual(limits.instanceBytes)
            expect(instance.files).toBeLessThanOrEqual(limits.instanceFiles)
            for (const s of sessions) {
              expect(s.bytes).toBeLessThanOrEqual(limits.sessionBytes)
              expect(s.files).toBeLessThanOrEqual(limits.sessionFiles)
            }
          }
          // The books balance: what is held is exactly the kept files plus the open reservations.
          const held = [...kept, ...open]
          expect(instance).toEqual({ bytes: held.reduce((a, h) => a + h.bytes, 0), files: held.length })
          sessions.forEach((s, i) => {
            const mine = held.filter((h) => h.session === i)
            expect(s).toEqual({ bytes: mine.reduce((a, h) => a + h.bytes, 0), files: mine.length })
          })
        }
      ),
      { numRuns: 500 }
    )
  })

  it("disk floor: the larger of the byte floor and the percentage of the filesystem", () => {
    const stats = { bavail: 1000, blocks: 10_000, bsize: 4096 }
    // 5 % of 40,960,000 = 2,048,000 > 1,000,000.
    expect(diskRoom(stats, { minFreeBytes: 1_000_000, minFreePercent: 5 })).toEqual({
      free: 4_096_000,
      floor: 2_048_000,
      allowance: 2_048_000
    })
    expect(diskRoom(stats, { minFreeBytes: 5_000_000, minFreePercent: 5 }).allowance).toBe(-904_000)
    expect(diskRoom(stats, { minFreeBytes: 0, minFreePercent: 0 }).allowance).toBe(4_096_000)
    expect(diskRoom(stats, { minFreeBytes: 0, minFreePercent: 100 }).allowance).toBeLessThan(0)
  })
})
