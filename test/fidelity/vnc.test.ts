// Differential fidelity, vnc (issue 14): Debian's TigerVNC 1.12 (Xtigervnc, VNC Authentication only) and
// the vnc emulator on loopback get the same probes: nmap's service probes for 5900 (from the installed
// nmap-service-probes), RFB's error cases (versions official, unofficial and foreign, security types not
// offered, wrong answers, garbage) and a scripted VNC Authentication; then TigerVNC's per-address
// blacklist is walked through from a source address of its own. Accepted differences:
// test/fidelity/accepted/vnc.ts.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createConnection } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, decnet, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { accepted } from "./accepted/vnc.js"
import { differences, named } from "./diff.js"
import { type Observation, nmapProbes, probe, untilAnswered } from "./probe.js"
import type { RealServer } from "./servers/types.js"
import { available, nmapExpect, startVnc, XTIGERVNC } from "./servers/vnc.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready = available() && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip

const HOST = "127.0.0.1"
/** The blacklist walk connects from here, so the corpus's connections from 127.0.0.1 never count. */
const BLACKLIST_SOURCE = "127.14.8.200"
const ZEROS16 = "\0".repeat(16)

const OUR_PROBES = [
  "RFB 003.008\n",
  `RFB 003.008\n\x02${ZEROS16}`,
  `RFB 003.007\n\x02${ZEROS16}`,
  `RFB 003.003\n${ZEROS16}`,
  `RFB 003.005\n${ZEROS16}`,
  `RFB 003.009\n\x02${ZEROS16}`,
  `RFB 003.889\n\x02${ZEROS16}`,
  `RFB 3.8\n\n\n\n\n\x02${ZEROS16}`,
  "RFB 004.001\n",
  "RFB 002.000\n",
  "RFB 000.000\n",
  "RFB 003.008\n\x01",
  "RFB 003.008\n\x00",
  "RFB 003.008\n\x10",
  "RFB 003.008\n\x13",
  "RFB 003.007\n\x01",
  "RFB 003.008\n\x02\x01\x02\x03\x04\x05\x06\x07\x08",
  "RFB 003.008",
  "RFB 003.0x8\n",
  "rfb 003.008\n",
  "GET / HTTP/1.0\r\n\r\n",
  "\r\n\r\n",
  "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00\x00\x00"
]

/** The challenge is random on both: mask it wherever a reply carries one. */
const normalise = (b: Buffer): string => {
  const s = b.toString("latin1")
  if (s.startsWith("RFB 003.008\n\x01\x02") && s.length >= 30)
    return `${s.slice(0, 14)}<challenge>${s.slice(30)}`
  if (s.startsWith("RFB 003.008\n\0\0\0\x02") && s.length >= 32)
    return `${s.slice(0, 16)}<challenge>${s.slice(32)}`
  return s
}

/** One connection from `source`: read the greeting, answer as a 3.8 client with a wrong password. */
const attempt = (host: string, port: number, source: string) =>
  new Promise<Observation>((resolve) => {
    const chunks: Array<Buffer> = []
    let sent = 0
    const s = createConnection({ host, port, localAddress: source })
    const done = (ending: Observation["ending"]) => {
      s.destroy()
      resolve({ reply: Buffer.concat(chunks), ending })
    }
    const timer = setTimeout(() => done("open"), 3_000)
    s.on("data", (d: Buffer) => {
      chunks.push(d)
      const got = Buffer.concat(chunks)
      if (sent === 0 && got.length >= 12 && got.subarray(0, 12).toString() === "RFB 003.008\n") {
        sent = 1
        s.write("RFB 003.008\n")
      }
      if (sent === 1 && got.length >= 14) {
        sent = 2
        s.write(Buffer.from([2]))
      }
      if (sent === 2 && got.length >= 30) {
        sent = 3
        s.write(Buffer.alloc(16))
      }
    })
    s.on("end", () => {
      clearTimeout(timer)
      done("closed")
    })
    s.on("error", () => {
      clearTimeout(timer)
      done("reset")
    })
  })

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

suite("vnc: the emulator answers probes as TigerVNC 1.12 does", () => {
  const reals: Array<RealServer> = []
  const ports = { real: 0, fake: 0, realBl: 0, fakeBl: 0 }

  const emulator = async (port: number, config: Record<string, unknown>, host = HOST) => {
    const p = decnet(
      ["honeypot", "vnc", "--host", host, "--port", String(port), "--config", JSON.stringify(config)],
      cleanEnv({})
    )
    await untilAnswered([p], [() => probe(host, port, Buffer.alloc(0), 100)])
  }

  beforeAll(async () => {
    for (const k of ["real", "fake", "realBl", "fakeBl"] as const) ports[k] = await freePort()
    // The corpus runs ~40 connections from one address: both get a blacklist too high to reach.
    reals.push(await startVnc({ host: HOST, port: ports.real, blacklistThreshold: 1_000_000 }))
    await emulator(ports.fake, { blacklist_threshold: 1_000_000 })
    // TigerVNC's defaults (5 connections), the first block shortened to 2 s on both so the walk is quick.
    reals.push(await startVnc({ host: HOST, port: ports.realBl, blacklistTimeout: 2 }))
    await emulator(ports.fakeBl, { blacklist_timeout: 2 })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(reals.map((r) => r.stop()))
    await stopAll()
  })

  it("is TigerVNC 1.12, the release whose behaviour the emulator follows", () => {
    // Xvnc prints its version on stderr.
    const v = spawnSync(XTIGERVNC, ["-version"], { encoding: "utf8" })
    expect(`${v.stdout}${v.stderr}`).toMatch(/TigerVNC 1\.12\./)
  })

  it("answers nmap's probes for 5900 and RFB's error cases with the same bytes and the same ending", async () => {
    const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), 5900), ...named(OUR_PROBES)]
    expect(corpus.map((c) => c.name)).toContain("NULL")
    const found = await differences(
      { host: HOST, port: ports.real },
      { host: HOST, port: ports.fake },
      corpus,
      accepted,
      { normalise, realName: "Xtigervnc" }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)

  it("nmap -sV on 5900 names both `vnc  VNC (protocol 3.8)`", async () => {
    // The default port on two addresses of this suite's loopback range: real and emulator, default configs.
    const real = await startVnc({ host: "127.14.8.40", port: 5900 })
    reals.push(real)
    await emulator(5900, {}, "127.14.8.41")
    for (const host of ["127.14.8.40", "127.14.8.41"]) {
      const t0 = performance.now()
      const out = spawnSync("nmap", ["-sV", "-Pn", "-n", "-p", "5900", host], { encoding: "utf8" }).stdout
      console.log(`nmap -sV ${host}:5900 in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      expect(out).toMatch(nmapExpect)
      expect(out).not.toMatch(/unknown|tcpwrapped|vnc\?/)
    }
  }, 60_000)

  it("holds a failed VNC Authentication back about 100 ms, as TigerVNC does", async () => {
    const t0 = performance.now()
    const o = await attempt(HOST, ports.fake, HOST)
    // The 100 ms is a floor (a timer), never a ceiling: no assertion on how much longer it took.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95)
    expect(o.reply.subarray(30).toString("latin1")).toBe("\0\0\0\x01\0\0\0\x16Authentication failure")
  })

  it("blacklists an address after 5 connections, lets one try through when the block runs out, then doubles it", async () => {
    const walk = async (port: number) => {
      const seen: Array<string> = []
      const step = async () => {
        const o = await attempt(HOST, port, BLACKLIST_SOURCE)
        seen.push(`${normalise(o.reply)} (${o.ending})`)
      }
      for (let i = 0; i < 7; i++) await step()
      await sleep(2_100)
      await step()
      await step()
      return seen
    }
    const [real, fake] = await Promise.all([walk(ports.realBl), walk(ports.fakeBl)])
    const welcome = "RFB 003.003\n\0\0\0\0\0\0\0\x1aToo many security failures (closed)"
    expect(real.slice(5, 7)).toEqual([welcome, welcome])
    expect(real[7]).toContain("Authentication failure")
    expect(real[8]).toBe(welcome)
    expect(fake).toEqual(real)
  }, 30_000)
})
