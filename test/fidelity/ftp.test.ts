// Differential fidelity, ftp (issue 14): Debian's vsftpd 3.0.3 (anonymous on, local users through PAM,
// write_enable=NO) and the ftp emulator with the vsftpd 3.0.3 persona get the same probes: nmap's own
// service probes for port 21 (read from the installed nmap-service-probes), vsftpd's pre-login and
// post-login error cases (unknown and out-of-order commands, over-long and empty lines, EPRT/EPSV/PORT
// forms) and the failed-login flow (PAM's delay, then the close after max_login_fails=3). What a
// scanner can observe must match: the reply bytes and whether the connection was then closed, reset or
// left open. Accepted differences: test/fidelity/accepted/ftp.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { stopAll } from "../support/proc.js"
import { accepted } from "./accepted/ftp.js"
import { differences, named } from "./diff.js"
import { startEmulator } from "./nmap.js"
import { nmapProbes, probe } from "./probe.js"
import { emulatorConfig, start, VSFTPD } from "./servers/ftp.js"
import type { RealServer } from "./servers/types.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const root = process.getuid?.() === 0
const ready = existsSync(VSFTPD) && existsSync(PROBES_FILE) && root
const suite = ready || onCi ? describe : describe.skip

const ANON = "USER anonymous\r\nPASS guest@\r\n"

/** Other services' probes a scanner also sends to 21 (nmap -sV tries them all on an unknown port). */
const FOREIGN = [
  "GetRequest",
  "HTTPOptions",
  "RTSPRequest",
  "SSLSessionReq",
  "TLSSessionReq",
  "SMBProgNeg",
  "X11Probe",
  "FourOhFourRequest",
  "LDAPSearchReq",
  "SIPOptions",
  "DNSVersionBindReqTCP",
  "Kerberos"
]
const FOREIGN_PORTS = [53, 80, 88, 389, 443, 445, 554, 5060, 6000]

const OUR_PROBES = [
  // Before a login: only USER, PASS, QUIT, FEAT and OPTS are answered.
  "\r\n",
  "\r\r\r\n \r\nX\r\r\n\u0000\r\n",
  "FOO\r\n",
  "SYST\r\nNOOP\r\nPWD\r\nLIST\r\nSTAT\r\nHELP\r\nPASV\r\nCWD /\r\nSITE HELP\r\n",
  "FEAT\r\n",
  "QUIT\r\n",
  "PASS x\r\n",
  "AUTH TLS\r\nAUTH SSL\r\nPBSZ 0\r\nPROT P\r\n",
  "OPTS UTF8 ON\r\nOPTS utf8 off\r\nOPTS x\r\nOPTS UTF8\r\n",
  "USER\r\nPASS x\r\n",
  "user bob\r\nUSER root\r\n",
  "USER anonymous\r\nUSER bob\r\nPASS x\r\n",
  "USER bob\r\nPASS x\r\n",
  `${"A".repeat(4094)}\r\n`,
  "A".repeat(4096),
  `USER ${"A".repeat(5000)}\r\n`,
  "GET / HTTP/1.0\r\n\r\n",
  "\u00ff\u00f4\u00ff\u00f2ABOR\r\n",
  // Logged in as anonymous.
  `${ANON}PWD\r\nSYST\r\nFOO\r\nHELP\r\nSTAT\r\nNOOP\r\nTYPE I\r\nTYPE A\r\nTYPE X\r\nTYPE L 8\r\nTYPE i\r\nTYPE a n\r\n`,
  `${ANON}MODE S\r\nMODE B\r\nSTRU F\r\nSTRU R\r\nmode s\r\n`,
  `${ANON}CWD /nonexist\r\nCWD ..\r\nCDUP\r\nXCUP\r\nCWD /a/../\r\nCWD\r\nCWD .\r\nXCWD /\r\nPWD\r\nXPWD\r\n`,
  `${ANON}SIZE x\r\nMDTM x\r\nSIZE\r\nMDTM\r\nSIZE /\r\nRETR x\r\nRETR\r\nLIST\r\nNLST\r\nSTAT x\r\n`,
  `${ANON}DELE x\r\nMKD x\r\nXMKD x\r\nRMD x\r\nRNFR x\r\nRNTO y\r\nSITE HELP\r\nSITE CHMOD 777 x\r\nSTOR x\r\nSTOU\r\nAPPE x\r\n`,
  `${ANON}REST 100\r\nREST x\r\nREST -5\r\nREST 99999999999999999999999\r\nREST 12abc\r\nABOR\r\nABOR x\r\n`,
  `${ANON}ALLO 5\r\nACCT x\r\nREIN\r\nSMNT x\r\nMLSD\r\nMLST\r\nAUTH TLS\r\nPBSZ 0\r\nPROT P\r\nFEAT\r\nOPTS UTF8 ON\r\nOPTS x\r\n`,
  `${ANON}USER bob\r\nUSER ftp\r\nPASS x\r\nPASS\r\n`,
  `${ANON}PORT 1,2,3,4,5,6\r\nPORT 127,0,0,1,0,80\r\nPORT\r\nPORT a,b\r\nEPRT\r\nEPRT x\r\nEPRT |2|::1|5000|\r\nEPRT |3|x|5|\r\nEPRT |1|1.2.3.4|5000|\r\nEPRT |1|127.0.0.1|80|\r\n`,
  `${ANON}PORT 127,0,0,1,19,136\r\nEPRT |1|127.0.0.1|5000|\r\n`,
  `${ANON}PASV\r\nEPSV\r\nEPSV 2\r\nEPSV 1\r\nEPSV x\r\nP@SW\r\nEPSV ALL\r\nPASV\r\nPORT 127,0,0,1,19,136\r\nEPRT |1|127.0.0.1|5000|\r\nEPSV\r\n`,
  `${ANON}PASV\r\nRETR x\r\nPASV\r\nLIST\r\n`,
  `${ANON}NOOP\u0000x\r\nnoop\r\n \r\nNOOP  \r\n\r\n\u00ff\u00f4\u00ff\u00f2ABOR\r\n`,
  `${ANON}${"A".repeat(5000)}\r\n`,
  `${ANON}QUIT\r\n`,
  "USER ftp\r\nPASS\r\nSTAT\r\nQUIT\r\n"
]

/** What legitimately differs: passive ports (and the address in PASV), the client count, the peer. */
const normalise = (reply: Buffer): string =>
  reply
    .toString("latin1")
    .replace(/\(\d+,\d+,\d+,\d+,\d+,\d+\)/g, "(h1,h2,h3,h4,p1,p2)")
    .replace(/\(\|\|\|\d+\|\)/g, "(|||port|)")
    .replace(/client count was \d+/g, "client count was N")

/** The bytes as one latin1 string, so \u00ff is the byte 0xff (named() would send it as UTF-8). */
const latin1 = (probes: ReadonlyArray<string>) =>
  named(probes).map((p, i) => ({ name: p.name, bytes: Buffer.from(probes[i] ?? "", "latin1") }))

suite("ftp: the emulator answers probes as Debian's vsftpd 3.0.3 does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-ftp-emu-"))

  beforeAll(async () => {
    real = await start({ host: "127.0.0.1", port: await freePort() })
    fakePort = await freePort()
    await startEmulator("ftp", "127.0.0.1", [fakePort], emulatorConfig, dir)
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("answers nmap's probes for 21 and vsftpd's error cases with the same bytes and the same ending", async () => {
    const text = readFileSync(PROBES_FILE, "utf8")
    const forPort = nmapProbes(text, 21)
    expect(forPort.map((c) => c.name)).toEqual(["NULL", "GenericLines", "Help"])
    // The foreign probes, found through the ports nmap sends them to.
    const foreign = new Map(
      FOREIGN_PORTS.flatMap((port) => nmapProbes(text, port))
        .filter((p) => FOREIGN.includes(p.name))
        .map((p) => [p.name, p] as const)
    )
    const corpus = [...forPort, ...foreign.values(), ...latin1(OUR_PROBES)]
    expect(corpus.length).toBe(3 + FOREIGN.length + OUR_PROBES.length)
    const found = await differences(
      { host: "127.0.0.1", port: real?.port ?? 0 },
      { host: "127.0.0.1", port: fakePort },
      corpus,
      accepted,
      { realName: "vsftpd", normalise }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("refuses a bad password after PAM's delay, and closes after the third failure, like vsftpd", async () => {
    const flow = Buffer.from("USER bob\r\nPASS x\r\nUSER bob\r\nPASS y\r\nUSER root\r\nPASS z\r\nNOOP\r\n")
    // 4 s of silence ends a reply: longer than any PAM delay, so each 530 is waited for.
    const [a, b] = await Promise.all([
      probe("127.0.0.1", real?.port ?? 0, flow, 4_000, 20_000),
      probe("127.0.0.1", fakePort, flow, 4_000, 20_000)
    ])
    const expected =
      "220 (vsFTPd 3.0.3)\r\n" + "331 Please specify the password.\r\n530 Login incorrect.\r\n".repeat(3)
    expect(a.reply.toString("latin1")).toBe(expected)
    expect(b.reply.toString("latin1")).toBe(expected)
    expect([a.ending, b.ending]).toEqual(["closed", "closed"])
  }, 60_000)
})
