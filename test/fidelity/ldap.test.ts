// Differential fidelity, ldap (issue 14): Debian's OpenLDAP slapd 2.5 and the ldap emulator (an Active
// Directory DC), both on loopback, get the same probes: nmap's own service probes for port 389 (read from
// the installed nmap-service-probes) and the requests and malformed input of ldapCorpus.ts. What is
// compared is the protocol-level behaviour a scanner observes: which responses come back (message id,
// protocolOp, resultCode, Notice of Disconnection), and whether the connection was then closed, reset
// or left open. What AD does differently from OpenLDAP by design (its 4-byte BER lengths, its rootDSE,
// its diagnostic texts) is normalised away here, and the AD-specific bytes are checked against nmap's
// own Active Directory signatures instead. LDAPS on 636 is held to Windows Server 2019's documented Schannel
// defaults (tlsPersonas.ts). Accepted differences: test/fidelity/accepted/ldap.ts.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { children, readTlv } from "../../src/honeypots/ntlm/Der.js"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, type Proc, stopAll, waitUntil } from "../support/proc.js"
import { accepted } from "./accepted/ldap.js"
import { differences } from "./diff.js"
import { ldapCorpus, summarise } from "./ldapCorpus.js"
import { listening, nmapProbes, probe, untilAnswered } from "./probe.js"
import { emulatorConfig, HOSTNAME, SLAPD, start } from "./servers/ldap.js"
import type { RealServer } from "./servers/types.js"
import { documentedDifferences, SCHANNEL_2019 } from "./tlsPersonas.js"
import { describeSurface, scanTls } from "./tlsScan.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready = existsSync(SLAPD) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip

suite("ldap: the emulator answers probes as an LDAP server does (slapd for the protocol, nmap's DB for AD)", () => {
  let real: RealServer | undefined
  let fake: Proc | undefined
  let fakePort = 0
  const home = mkdtempSync(join(tmpdir(), "decnet-fidelity-ldap-"))
  const probes = readFileSync(PROBES_FILE, "utf8")

  beforeAll(async () => {
    real = await start({ host: "127.0.0.1", port: await freePort() })
    fakePort = await freePort()
    fake = decnet(
      [
        "honeypot",
        "ldap",
        "--host",
        "127.0.0.1",
        "--port",
        String(fakePort),
        "--port",
        "0",
        "--hostname",
        HOSTNAME,
        "--config",
        JSON.stringify(emulatorConfig)
      ],
      cleanEnv({ HOME: home })
    )
    const anonymousBind = Buffer.from("300c020101600702010304008000", "hex")
    await untilAnswered([fake], [() => probe("127.0.0.1", fakePort, anonymousBind, 100)])
  })

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(home, { recursive: true, force: true })
  })

  it("is slapd 2.5 (the protocol reference)", () => {
    const v = spawnSync(SLAPD, ["-VV"], { encoding: "utf8" })
    expect(`${v.stdout}${v.stderr}`).toMatch(/slapd 2\.5\./)
  })

  it("answers nmap's probes for 389 and the LDAP error cases with the same responses and endings", async () => {
    const corpus = [...nmapProbes(probes, 389), ...ldapCorpus]
    expect(corpus.map((c) => c.name)).toEqual(expect.arrayContaining(["LDAPSearchReq", "LDAPBindReq"]))
    const found = await differences(
      { host: "127.0.0.1", port: real!.port },
      { host: "127.0.0.1", port: fakePort },
      corpus,
      accepted,
      { realName: "slapd", normalise: summarise }
    )
    expect(found, found.join("\n")).toEqual([])
  })

  it("matches nmap's Active Directory signature with AD's 4-byte BER lengths", async () => {
    const [search] = nmapProbes(probes, 389).filter((p) => p.name === "LDAPSearchReq")
    const reply = (await probe("127.0.0.1", fakePort, search!.bytes)).reply.toString("latin1")
    // The `match ldap` lines of the LDAPSearchReq probe that name Active Directory, as nmap applies them.
    const section = probes.slice(probes.indexOf("Probe TCP LDAPSearchReq"))
    const ad = section
      .split("\n")
      .filter((l) => l.startsWith("match ldap m|") && l.includes("Active Directory"))
      .map((l) => new RegExp(/^match ldap m\|(.*)\|s /.exec(l)![1]!.replace(/\\0/g, "\\x00"), "s"))
    expect(ad.length).toBeGreaterThan(0)
    const hit = ad.map((re) => re.exec(reply)).find((m) => m !== null)
    expect(hit?.slice(1, 5)).toEqual(["DC01", "Default-First-Site-Name", "corp", "local"])
    // Every constructed element is 0x84-long; the bind response too (what AD's wldap32 peers expect).
    const bind = await probe("127.0.0.1", fakePort, Buffer.from("300c020101600702010304008000", "hex"))
    expect(bind.reply.toString("hex")).toBe("3084000000100201016184000000070a010004000400")
  })

  it("gives AD's own answers where AD and OpenLDAP differ (the accepted list)", async () => {
    const ask = async (name: string) => {
      const o = await probe("127.0.0.1", fakePort, ldapCorpus.find((c) => c.name === name)!.bytes)
      return `${summarise(o.reply)} (${o.ending})`
    }
    expect(await ask("anonymous bind v2")).toBe("1 op=0x61 code=0 (open)")
    expect(await ask("simple bind, UPN")).toBe("1 op=0x61 code=49 (open)")
    expect(await ask("simple bind, DN without password")).toBe("1 op=0x61 code=0 (open)")
    expect(await ask("subtree search before bind")).toBe("2 op=0x65 code=1 (open)")
    expect(await ask("unknown protocolOp [APPLICATION 30]")).toBe(
      "0 op=0x78 code=2 name=1.3.6.1.4.1.1466.20036 (closed)"
    )
    const refused = await probe(
      "127.0.0.1",
      fakePort,
      ldapCorpus.find((c) => c.name === "simple bind, wrong password")!.bytes
    )
    expect(refused.reply.toString("latin1")).toContain(
      "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563\0"
    )
  })

  it("serves a coherent Windows Server 2019 DC rootDSE", async () => {
    const [search] = nmapProbes(probes, 389).filter((p) => p.name === "LDAPSearchReq")
    const reply = (await probe("127.0.0.1", fakePort, search!.bytes)).reply
    const entry = children(children(readTlv(reply)!.value)![1]!.value)!
    const attrs = new Map(
      children(entry[1]!.value)!.map((a) => {
        const [type, vals] = children(a.value)!
        return [type!.value.toString(), children(vals!.value)!.map((v) => v.value.toString())] as const
      })
    )
    expect(attrs.get("defaultNamingContext")).toEqual(["DC=corp,DC=local"])
    expect(attrs.get("dnsHostName")).toEqual(["dc01.corp.local"])
    expect(attrs.get("ldapServiceName")).toEqual(["corp.local:dc01$@CORP.LOCAL"])
    expect(attrs.get("supportedLDAPVersion")).toEqual(["3", "2"])
    expect(attrs.get("supportedCapabilities")).toContain("1.2.840.113556.1.4.800")
    // WIN2016 (7) is the highest level a Windows Server 2019 DC has (MS-ADTS §6.1.4.4).
    expect(attrs.get("domainControllerFunctionality")).toEqual(["7"])
    expect(attrs.get("serverName")?.[0]).toBe(
      "CN=DC01,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,DC=local"
    )
    expect(attrs.get("currentTime")?.[0]).toMatch(/^\d{14}\.0Z$/)
  })
})

describe("ldap: LDAPS on 636 offers Windows Server 2019's Schannel defaults", () => {
  const home = mkdtempSync(join(tmpdir(), "decnet-fidelity-ldaps-"))
  let port = 0

  beforeAll(async () => {
    port = await freePort()
    const fake = decnet(
      [
        "honeypot",
        "ldap",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--port",
        String(port),
        "--hostname",
        HOSTNAME
      ],
      cleanEnv({ HOME: home })
    )
    const up = await waitUntil(() => listening("127.0.0.1", port), 30_000)
    if (!up) throw new Error(`the emulator did not listen:\n${fake.stderr()}`)
  }, 60_000)

  afterAll(async () => {
    await stopAll()
    rmSync(home, { recursive: true, force: true })
  })

  it("TLS 1.0 to 1.2, Schannel's default suites in its priority order, its curves, no tickets", async () => {
    const scan = await scanTls("127.0.0.1", port)
    console.log(`ldaps emulator (${SCHANNEL_2019.source}):\n  ${describeSurface(scan).join("\n  ")}`)
    const found = documentedDifferences(scan, SCHANNEL_2019, accepted)
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)
})
