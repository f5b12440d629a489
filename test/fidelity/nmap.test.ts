// nmap -sV against all 17 emulators at once, each with its default configuration on its default ports on
// one loopback address (issue 14): every port is named as the software its persona claims, with 0
// "unknown" and 0 "tcpwrapped". Binding ports below 1024 needs root, as nmap's SYN scan does.
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stopAll } from "../support/proc.js"
import { describeScan, NMAP, nmapScan, startEmulator } from "./nmap.js"
import { PERSONAS } from "./personas.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const root = process.getuid?.() === 0
const suite = (existsSync(NMAP) && root) || onCi ? describe : describe.skip
const HOST = "127.14.9.1"

suite("nmap -sV names every emulator as its persona claims", () => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-nmap-"))

  beforeAll(async () => {
    await Promise.all(
      PERSONAS.map((p) =>
        startEmulator(
          p.slug,
          HOST,
          p.expect.map((e) => e.port),
          {},
          dir
        )
      )
    )
  })

  afterAll(async () => {
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("shows each default port open, with the persona's service and software, none unknown or tcpwrapped", async () => {
    const all = PERSONAS.flatMap((p) => p.expect)
    const scan = await nmapScan(
      HOST,
      all.map((e) => e.port)
    )
    console.log(`nmap -sV ${HOST}: ${scan.seconds} s\n${describeScan(scan)}`)
    const wrong: Array<string> = []
    for (const p of PERSONAS)
      for (const e of p.expect) {
        const seen = scan.ports.find((s) => s.port === e.port)
        if (seen === undefined) wrong.push(`${p.slug} ${e.port}: not in the scan`)
        else if (
          seen.state !== "open" ||
          seen.method !== "probed" ||
          seen.service !== e.service ||
          !e.shown.test(seen.shown)
        )
          wrong.push(
            `${p.slug} ${e.port}: nmap shows ${seen.state} ${seen.service}${seen.method === "probed" ? "" : "? (unidentified)"} "${seen.shown}", expected ${e.service} ${e.shown}`
          )
      }
    expect(wrong, wrong.join("\n")).toEqual([])
    expect(
      scan.ports.filter((s) => s.service.endsWith("unknown") || s.service.endsWith("tcpwrapped"))
    ).toEqual([])
  })
})
