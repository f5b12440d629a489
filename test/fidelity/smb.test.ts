// Differential fidelity, smb (issue 14): Debian's Samba 4.17 smbd and the smb emulator (a Windows Server
// 2019 file server), both on loopback, each with a 445-like and a 139-like port, get the same probes:
// nmap's own service probes for 445 and for 139 (read from the installed nmap-service-probes) and the
// NetBIOS/SMB cases of smbCorpus.ts. What is compared is the protocol-level behaviour a scanner observes:
// per NBSS frame its type, per SMB message its protocol, command, status and dialect, and whether the
// connection was then closed, reset or left open. Where Windows and Samba differ by design the
// difference is listed in test/fidelity/accepted/smb.ts, and the Windows bytes are checked against
// nmap's own signatures and MS-SMB2 instead.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, type Proc, stopAll } from "../support/proc.js"
import { accepted } from "./accepted/smb.js"
import { type CorpusProbe, differences } from "./diff.js"
import { nmapProbes, probe, untilAnswered } from "./probe.js"
import { emulatorConfig, HOSTNAME, SMBD, startSmbd } from "./servers/smb.js"
import type { RealServer } from "./servers/types.js"
import { sessionRequest, smb2Negotiate, smbCorpus, summarise } from "./smbCorpus.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready = existsSync(SMBD) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip

const onPort = (port: number, corpus: ReadonlyArray<CorpusProbe>): Array<CorpusProbe> =>
  corpus.map((c) => ({ name: `${port}: ${c.name}`, bytes: c.bytes }))

/** The `match` lines of nmap's SMBProgNeg probe for `service` naming Microsoft Windows, as regexps. */
const windowsMatches = (probes: string, service: string): Array<RegExp> => {
  const start = probes.indexOf("Probe TCP SMBProgNeg")
  const section = probes.slice(start, probes.indexOf("\nProbe ", start + 1))
  return section
    .split("\n")
    .filter((l) => l.startsWith(`match ${service} m|`) && l.includes("p/Microsoft Windows"))
    .map((l) => new RegExp(/^match \S+ m\|(.*)\|s? /.exec(l)![1]!.replace(/\\0/g, "\\x00"), "s"))
}

suite("smb: the emulator answers probes as an SMB server does (smbd for the protocol, nmap's DB for Windows)", () => {
  let real: RealServer | undefined
  let fake: Proc | undefined
  let real139 = 0
  let fake445 = 0
  let fake139 = 0
  const home = mkdtempSync(join(tmpdir(), "decnet-fidelity-smb-"))
  const probes = readFileSync(PROBES_FILE, "utf8")

  beforeAll(async () => {
    real139 = await freePort()
    real = await startSmbd({ host: "127.0.0.1", port: await freePort(), port139: real139 })
    fake445 = await freePort()
    fake139 = await freePort()
    fake = decnet(
      ["honeypot", "smb", "--host", "127.0.0.1", "--port", String(fake445), "--port", String(fake139)].concat(
        ["--hostname", HOSTNAME, "--config", JSON.stringify(emulatorConfig)]
      ),
      cleanEnv({ HOME: home })
    )
    const negotiate = smb2Negotiate([0x0202])
    await untilAnswered([fake], [() => probe("127.0.0.1", fake445, negotiate, 100)])
  })

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(home, { recursive: true, force: true })
  })

  it("is Samba 4.17 (the protocol reference)", () => {
    const v = spawnSync(SMBD, ["-V"], { encoding: "utf8" })
    expect(v.stdout).toMatch(/Version 4\.17\./)
  })

  it("answers nmap's probes for 445 and the SMB cases with the same frames and endings", async () => {
    const corpus = onPort(445, [...nmapProbes(probes, 445), ...smbCorpus])
    expect(corpus.map((c) => c.name)).toContain("445: SMBProgNeg")
    const found = await differences(
      { host: "127.0.0.1", port: real!.port },
      { host: "127.0.0.1", port: fake445 },
      corpus,
      accepted,
      { realName: "smbd", normalise: summarise, quietMs: 400 }
    )
    expect(found, found.join("\n")).toEqual([])
  })

  it("answers nmap's probes for 139 and the NetBIOS cases with the same frames and endings", async () => {
    // Each case twice: as the first frame, and after a session request for *SMBSERVER (what clients send).
    const cases = [...nmapProbes(probes, 139), ...smbCorpus]
    const corpus = [
      ...onPort(139, cases),
      ...onPort(
        139,
        cases
          .filter((c) => c.name !== "NULL")
          .map((c) => ({
            name: `*SMBSERVER, then ${c.name}`,
            bytes: Buffer.concat([sessionRequest("*SMBSERVER"), c.bytes])
          }))
      )
    ]
    expect(corpus.map((c) => c.name)).toContain("139: SMBProgNeg")
    const found = await differences(
      { host: "127.0.0.1", port: real139 },
      { host: "127.0.0.1", port: fake139 },
      corpus,
      accepted,
      { realName: "smbd", normalise: summarise, quietMs: 400 }
    )
    expect(found, found.join("\n")).toEqual([])
  })

  it("matches nmap's Windows signatures: netbios-ssn on 139, microsoft-ds on 445", async () => {
    const [progNeg] = nmapProbes(probes, 445).filter((p) => p.name === "SMBProgNeg")
    const on139 = (await probe("127.0.0.1", fake139, progNeg!.bytes)).reply.toString("latin1")
    expect(windowsMatches(probes, "netbios-ssn").some((re) => re.test(on139))).toBe(true)
    const on445 = (await probe("127.0.0.1", fake445, progNeg!.bytes)).reply.toString("latin1")
    const hit = windowsMatches(probes, "microsoft-ds")
      .map((re) => re.exec(on445))
      .find((m) => m !== null)
    expect(hit?.[0]).toBeDefined()
    // Workgroup and computer name, as nmap's $P() prints them.
    expect(hit?.slice(1, 3).map((s) => s.replace(/\0/g, ""))).toEqual(["CORP", "FS01"])
  })

  it("negotiates SMB2 with the fields of a Windows Server 2019 (MS-SMB2 §2.2.4)", async () => {
    const reply = (await probe("127.0.0.1", fake445, smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302]))).reply
    const body = reply.subarray(4 + 64)
    expect(body.readUInt16LE(4)).toBe(0x0302)
    expect(body.readUInt16LE(2)).toBe(0x0001)
    // DFS | LEASING | LARGE_MTU | MULTI_CHANNEL | DIRECTORY_LEASING | ENCRYPTION, 8 MiB I/O, ServerStartTime 0.
    expect(body.readUInt32LE(24)).toBe(0x6f)
    expect([body.readUInt32LE(28), body.readUInt32LE(32), body.readUInt32LE(36)]).toEqual([
      8388608, 8388608, 8388608
    ])
    expect(body.readBigUInt64LE(48)).toBe(0n)
    expect(body.subarray(body.readUInt16LE(56) - 64).toString("latin1")).toContain(
      "not_defined_in_RFC4178@please_ignore"
    )
  })
})
