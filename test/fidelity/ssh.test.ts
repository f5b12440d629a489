// Differential fidelity, ssh (issue 14): Debian's sshd (OpenSSH 9.2p1 Debian-2+deb12u10) and the ssh
// emulator's persona that claims it, both on loopback, each with fresh host keys of the same kinds
// (RSA-3072, ECDSA P-256, Ed25519). Compared:
// - nmap's probes for port 22 (NULL) and, since a scanner that does not recognise the banner goes on
//   with them, every common TCP probe of nmap-service-probes (rarity <= 6), plus the identification
//   errors sshd answers (bad line, HTTP request, empty line, NUL, CR without LF, over-long line, SSH-1,
//   binary junk): the reply bytes, and closed / reset / open; the server KEXINIT's random cookie and
//   packet padding are zeroed on both sides;
// - the KEXINIT itself, parsed: every name-list in order, first_kex_packet_follows, reserved, HASSH-server;
// - the EXT_INFO extensions (server-sig-algs, publickey-hostbound@openssh.com) and the auth methods, as
//   Debian's own ssh client reports them (ssh -vvv);
// - ssh-audit (Debian's 2.5.0) output, apart from the host-key fingerprint lines;
// - MaxAuthTries: a client offering seven keys is disconnected with "Too many authentication failures";
// - nmap -sV on port 22 (as root only: both on 127.14.1.x), same product and version; times printed.
// Accepted differences: test/fidelity/accepted/ssh.ts.
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, decnet, type Proc, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { accepted } from "./accepted/ssh.js"
import { type CorpusProbe, differences, named } from "./diff.js"
import { nmapProbes, probe, untilAnswered } from "./probe.js"
import { emulatorConfig, nmapExpect, SSH_KEYGEN, SSHD, start } from "./servers/ssh.js"
import type { RealServer } from "./servers/types.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const SSH_AUDIT = "/usr/bin/ssh-audit"
const ready = [SSHD, SSH_KEYGEN, PROBES_FILE, SSH_AUDIT, "/usr/bin/ssh"].every((f) => existsSync(f))
const suite = ready || onCi ? describe : describe.skip
const HOST = "127.0.0.1"
/** sshd forks and re-executes itself per connection: on a loaded machine its answer can take a while. */
const QUIET_MS = 1000

const OUR_PROBES = [
  "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n",
  "SSH-2.0-Go\n",
  "SSH-1.99-OpenSSH_3.9p1\r\n",
  "SSH-1.5-OpenSSH_3.9p1\r\n",
  "SSH-3.0-x\r\n",
  "SSH-2.0-\r\n",
  "SSH-\r\n",
  "SSH-2.0-x\u0000y\r\n",
  "SSH-2.0-x\ry\r\n",
  "SSH-2.0-paramiko_2.11.0 with a space\r\n",
  "SSH-2.0- leading space\r\n",
  "SSH- 02.00-x\r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "HELP\r\n",
  "\r\n",
  "\n",
  "\u0000\u0001\u0002\u0003\r\n",
  "hello",
  `SSH-2.0-${"x".repeat(9000)}\r\n`,
  `${"A".repeat(9000)}\r\n`
]

/** nmap's TCP probes of rarity <= `rarity` (what -sV sends to a port whose banner it cannot name). */
const commonProbes = (text: string, rarity: number): Array<CorpusProbe> => {
  // nmapProbes takes the probes whose ports line names the port: give each common probe that line.
  const lines: Array<string> = []
  let probeRarity = 9
  let block: Array<string> = []
  const flush = () => {
    if (block.length > 0 && probeRarity <= rarity) lines.push(...block, "ports 22")
    block = []
    probeRarity = 9
  }
  for (const line of text.split("\n")) {
    if (line.startsWith("Probe ")) {
      flush()
      block.push(line)
    } else if (line.startsWith("rarity ")) probeRarity = Number(line.slice(7))
  }
  flush()
  return nmapProbes(lines.join("\n"), 22)
}

/** The corpus: nmap's probes for 22, the common ones, and ours. */
const corpus = (): Array<CorpusProbe> => {
  const text = readFileSync(PROBES_FILE, "utf8")
  return [
    ...nmapProbes(text, 22),
    ...commonProbes(text, 6).filter((c) => c.name !== "NULL"),
    ...named(OUR_PROBES)
  ]
}

/**
 * How many bytes of a probe sshd reads before it refuses it (kex_exchange_identification reads one byte
 * at a time: up to the first LF, a NUL, a CR not followed by LF, or past 8192 bytes); the whole probe
 * when it does not refuse.
 */
const sshdStopsAt = (b: Buffer): number => {
  let expectLf = false
  for (let i = 0; i < b.length; i++) {
    const c = b[i]
    if (c === 0x0d) {
      expectLf = true
      continue
    }
    if (c === 0x0a || c === 0 || expectLf || i >= 8192) return i + 1
  }
  return b.length
}

/**
 * The reply as text, with what is random per connection zeroed: the KEXINIT cookie and every
 * unencrypted packet's padding (OpenSSH pads with random bytes).
 */
const normalise = (reply: Buffer): string => {
  const b = Buffer.from(reply)
  const eol = b.indexOf("\n")
  let p = eol < 0 ? b.length : eol + 1
  while (p + 6 <= b.length) {
    const len = b.readUInt32BE(p)
    const pad = b[p + 4] ?? 0
    if (len < 12 || p + 4 + len > b.length) break
    if (b[p + 5] === 20) b.fill(0, p + 6, p + 22)
    b.fill(0, p + 4 + len - pad, p + 4 + len)
    p += 4 + len
  }
  return b.toString("latin1")
}

interface KexInit {
  readonly lists: Record<string, string>
  readonly firstKexFollows: number
  readonly reserved: number
}

const LIST_NAMES = [
  "kex_algorithms",
  "server_host_key_algorithms",
  "encryption_client_to_server",
  "encryption_server_to_client",
  "mac_client_to_server",
  "mac_server_to_client",
  "compression_client_to_server",
  "compression_server_to_client",
  "languages_client_to_server",
  "languages_server_to_client"
] as const

/** The server's first packet (its KEXINIT) after it read our identification line. */
const kexinit = async (port: number): Promise<KexInit> => {
  const o = await probe(HOST, port, Buffer.from("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"), QUIET_MS)
  const b = o.reply
  let p = b.indexOf("\n") + 1
  const len = b.readUInt32BE(p)
  const pad = b[p + 4] ?? 0
  const payload = b.subarray(p + 5, p + 4 + len - pad)
  expect(payload[0]).toBe(20)
  p = 17
  const lists: Record<string, string> = {}
  for (const name of LIST_NAMES) {
    const n = payload.readUInt32BE(p)
    lists[name] = payload.subarray(p + 4, p + 4 + n).toString("latin1")
    p += 4 + n
  }
  return { lists, firstKexFollows: payload[p] ?? -1, reserved: payload.readUInt32BE(p + 1) }
}

/** HASSH-server: MD5 of kex;ciphers;macs;compression (server to client lists). */
const hasshServer = (k: KexInit) =>
  createHash("md5")
    .update(
      [
        k.lists.kex_algorithms,
        k.lists.encryption_server_to_client,
        k.lists.mac_server_to_client,
        k.lists.compression_server_to_client
      ].join(";")
    )
    .digest("hex")

/** What Debian's ssh client reports of the server before it gives up authenticating (no keys, no password). */
const clientView = (port: number, dir: string) => {
  const r = spawnSync(
    "ssh",
    [
      "-vvv",
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      `UserKnownHostsFile=${join(dir, "known_hosts")}`,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "PubkeyAuthentication=no",
      "-p",
      String(port),
      `root@${HOST}`,
      "true"
    ],
    { encoding: "utf8", timeout: 20_000 }
  )
  return r.stderr
    .split("\n")
    .filter((l) =>
      /kex_input_ext_info|Authentications that can continue|kex: algorithm|host key algorithm:/.test(l)
    )
    .map((l) => l.replace(/\r$/, ""))
}

/** ssh-audit's report without colours and without the lines that name this server's own keys. */
const audit = (port: number) => {
  const r = spawnSync(SSH_AUDIT, ["-n", "-p", String(port), HOST], { encoding: "utf8", timeout: 60_000 })
  return r.stdout
    .split("\n")
    .filter((l) => !/^\(fin\)/.test(l))
    .join("\n")
}

/** Seven ed25519 keys offered one after the other: sshd's MaxAuthTries (6) ends it. */
const tooManyKeys = (port: number, dir: string) => {
  const keys: Array<string> = []
  for (let i = 0; i < 7; i++) {
    const f = join(dir, `id_${i}`)
    if (!existsSync(f)) spawnSync(SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", f])
    keys.push("-i", f)
  }
  const r = spawnSync(
    "ssh",
    [
      "-F",
      "/dev/null",
      ...keys,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-p",
      String(port),
      `root@${HOST}`,
      "true"
    ],
    { encoding: "utf8", timeout: 20_000 }
  )
  return { code: r.status, stderr: r.stderr.replace(/port \d+/g, "port N") }
}

const startEmulator = async (host: string, port: number, dir: string): Promise<Proc> => {
  const fake = decnet(
    [
      "honeypot",
      "ssh",
      "--host",
      host,
      "--port",
      String(port),
      "--artifacts-dir",
      join(dir, "artifacts"),
      "--config",
      JSON.stringify(emulatorConfig)
    ],
    cleanEnv({ HOME: dir })
  )
  await untilAnswered([fake], [() => probe(host, port, Buffer.alloc(0), 100)], { timeoutMs: 60_000 })
  return fake
}

suite("ssh: the Debian persona answers as Debian's sshd 9.2p1 does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  let dir = ""

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-ssh-"))
    const [realPort, port] = [await freePort(), await freePort()]
    fakePort = port
    ;[real] = await Promise.all([start({ host: HOST, port: realPort }), startEmulator(HOST, fakePort, dir)])
  })

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("is the release the persona claims", () => {
    const v = spawnSync(SSHD, ["-V"], { encoding: "utf8" }).stderr
    expect(v).toMatch(/^OpenSSH_9\.2/)
    expect(emulatorConfig.version).toBe("OpenSSH_9.2p1 Debian-2+deb12u10")
  })

  it("sends the same KEXINIT: every name-list in order, the flags, HASSH-server", async () => {
    const [a, b] = await Promise.all([kexinit(real?.port ?? 0), kexinit(fakePort)])
    expect(a.lists.kex_algorithms).toContain("sntrup761x25519-sha512")
    expect(b).toEqual(a)
    expect(hasshServer(b)).toBe(hasshServer(a))
  })

  it("answers nmap's probes and the identification errors with the same bytes and the same ending", async () => {
    const all = corpus()
    expect(all.map((c) => c.name)).toContain("NULL")
    expect(all.length).toBeGreaterThan(40)
    const found = await differences(
      { host: HOST, port: real?.port ?? 0 },
      { host: HOST, port: fakePort },
      all,
      accepted,
      { realName: "sshd", normalise, quietMs: QUIET_MS }
    )
    expect(found, found.join("\n")).toEqual([])
  })

  it("refused early: the accepted probes are ones sshd stops reading, and still get the same bytes", async () => {
    const all = new Map(corpus().map((c) => [c.name, c.bytes]))
    for (const { probe: name } of accepted) {
      const bytes = all.get(name)
      expect(bytes, name).toBeDefined()
      if (bytes === undefined) continue
      expect(sshdStopsAt(bytes), name).toBeLessThan(bytes.length)
      const [a, b] = await Promise.all([
        probe(HOST, real?.port ?? 0, bytes, QUIET_MS),
        probe(HOST, fakePort, bytes, QUIET_MS)
      ])
      const banner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"
      expect(b.reply.toString("latin1"), name).toBe(`${banner}Invalid SSH identification string.\r\n`)
      expect(b.ending, name).toBe("closed")
      expect(["closed", "reset"], name).toContain(a.ending)
      // On a reset the client may lose what had not been read yet (sshd writes the text and its CR LF
      // separately): then the real reply is a prefix of the emulator's, never anything else.
      if (a.ending === "closed") expect(a.reply.toString("latin1"), name).toBe(b.reply.toString("latin1"))
      else {
        expect(b.reply.toString("latin1").startsWith(a.reply.toString("latin1")), name).toBe(true)
        expect(a.reply.toString("latin1").startsWith(banner), name).toBe(true)
      }
    }
  })

  it("sends the same EXT_INFO and offers the same methods, as Debian's ssh client sees them", () => {
    const a = clientView(real?.port ?? 0, dir)
    const b = clientView(fakePort, dir)
    expect(a.some((l) => l.includes("server-sig-algs=<ssh-ed25519,"))).toBe(true)
    expect(a.some((l) => l.includes("publickey-hostbound@openssh.com=<0>"))).toBe(true)
    expect(b).toEqual(a)
  })

  it("gets the same ssh-audit report, apart from the key fingerprints", () => {
    const a = audit(real?.port ?? 0)
    const b = audit(fakePort)
    expect(a).toContain("(gen) banner: SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10")
    expect(a).toContain("diffie-hellman-group-exchange-sha256 (2048-bit)")
    expect(b).toBe(a)
  })

  it("ends the 6th failed try with sshd's disconnect (MaxAuthTries)", () => {
    const a = tooManyKeys(real?.port ?? 0, dir)
    const b = tooManyKeys(fakePort, dir)
    expect(a.stderr).toContain("Too many authentication failures")
    expect(b).toEqual(a)
  })
})

const root = process.getuid?.() === 0
const nmapReady = ready && existsSync("/usr/bin/nmap") && root
const nmapSuite = nmapReady || (onCi && root) ? describe : describe.skip

nmapSuite("ssh: nmap -sV on port 22 names the emulator as the real sshd", () => {
  let dir = ""
  let real: RealServer | undefined

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-ssh-nmap-"))
  })

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  const scan = (host: string) => {
    const t0 = Date.now()
    const r = spawnSync("nmap", ["-sV", "-Pn", "-n", "-p", "22", host], {
      encoding: "utf8",
      timeout: 120_000
    })
    const line = r.stdout.split("\n").find((l) => l.startsWith("22/tcp")) ?? ""
    return { line, ms: Date.now() - t0 }
  }

  it("same service line, and the emulator's version is the persona's", async () => {
    real = await start({ host: "127.14.1.1", port: 22 })
    await startEmulator("127.14.1.2", 22, dir)
    const a = scan("127.14.1.1")
    const b = scan("127.14.1.2")
    console.log(`nmap -sV :22  sshd: ${a.line} (${a.ms} ms)  emulator: ${b.line} (${b.ms} ms)`)
    expect(a.line).toMatch(nmapExpect)
    expect(b.line).toBe(a.line)
  })
})
