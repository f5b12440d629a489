// Differential fidelity, postgres (issue 14): Debian's PostgreSQL 15 (a fresh cluster, md5 auth for every
// database) and the postgres emulator, both on loopback, get the same probes: nmap's service probes for
// 5432 (read from the installed nmap-service-probes), the startup phase's error cases (bad lengths,
// SSL/GSS/cancel requests, protocol versions, startup layouts, users, replication values, password
// packets) and psql's own sessions. The reply bytes (the MD5 salt aside) and the ending must match. With
// `ssl = on` (Debian's postgresql.conf), the TLS surface ssl-enum-ciphers enumerates after an SSLRequest
// (tlsScan.ts) must match too. Accepted differences: test/fidelity/accepted/postgres.ts.
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, decnet, type Proc, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { accepted } from "./accepted/postgres.js"
import { type CorpusProbe, differences } from "./diff.js"
import { nmapProbes, probe, untilAnswered } from "./probe.js"
import { available, emulatorConfig, start, startPostgres } from "./servers/postgres.js"
import type { RealServer } from "./servers/types.js"
import { describeSurface, scanTls, surfaceDifferences, upgrades } from "./tlsScan.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready = available() && existsSync(PROBES_FILE) && existsSync("/usr/bin/psql")
const suite = ready || onCi ? describe : describe.skip

const be32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}
const packet = (body: Buffer) => Buffer.concat([be32(body.length + 4), body])
const startup = (params: ReadonlyArray<readonly [string, string]>, version = 0x00030000) =>
  packet(
    Buffer.concat([be32(version), ...params.map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])])
  )
const typed = (type: string, body: Buffer) => Buffer.concat([Buffer.from(type), be32(body.length + 4), body])
const password = (pw: string) => typed("p", Buffer.from(`${pw}\0`))
const SSL = packet(be32(80877103))
const GSS = packet(be32(80877104))
const ALICE = startup([
  ["user", "alice"],
  ["database", "postgres"]
])
const P = (name: string, ...parts: ReadonlyArray<Buffer>): CorpusProbe => ({
  name,
  bytes: Buffer.concat(parts)
})

const OUR_PROBES: ReadonlyArray<CorpusProbe> = [
  P("SSLRequest", SSL),
  P("GSSENCRequest", GSS),
  P("SSLRequest twice", SSL, SSL),
  P("SSLRequest + pipelined startup", SSL, ALICE),
  P("SSLRequest + GSSENCRequest pipelined", SSL, GSS),
  P("GSSENCRequest + token", GSS, be32(8), Buffer.alloc(8, 1)),
  P("CancelRequest", packet(Buffer.concat([be32(80877102), be32(1234), be32(5678)]))),
  P("CancelRequest short", packet(Buffer.concat([be32(80877102), be32(1234)]))),
  P("startup without user", startup([["database", "postgres"]])),
  P("startup empty", startup([])),
  P("startup empty user", startup([["user", ""]])),
  P("startup alice", ALICE),
  P("startup alice, no database", startup([["user", "alice"]])),
  P(
    "startup alice, unknown database",
    startup([
      ["user", "alice"],
      ["database", "nosuchdb"]
    ])
  ),
  P("startup postgres", startup([["user", "postgres"]])),
  P("startup, utf-8 user", startup([["user", "élise"]])),
  P(
    "startup, 100-byte names",
    startup([
      ["user", "a".repeat(100)],
      ["database", "d".repeat(100)]
    ])
  ),
  P(
    "startup, application_name and options",
    startup([
      ["user", "alice"],
      ["application_name", "psql"],
      ["options", "-c x=y"]
    ])
  ),
  P("startup + md5 password", ALICE, password(`md5${"0".repeat(32)}`)),
  P("startup postgres + md5 password", startup([["user", "postgres"]]), password(`md5${"1".repeat(32)}`)),
  P("startup + plain password", startup([["user", "alice"]]), password("hunter2")),
  P("startup + empty password", startup([["user", "alice"]]), password("")),
  P(
    "startup unknown database + password",
    startup([
      ["user", "alice"],
      ["database", "x"]
    ]),
    password("x")
  ),
  P(
    "startup, user twice + password",
    startup([
      ["user", "alice"],
      ["user", "bob"]
    ]),
    password("x")
  ),
  P("startup, 100-byte user + password", startup([["user", "a".repeat(100)]]), password("x")),
  P("startup, utf-8 user + password", startup([["user", "élise"]]), password("x")),
  P("startup + two passwords", ALICE, password("x"), password("y")),
  P("startup + Query instead of password", ALICE, typed("Q", Buffer.from("select 1\0"))),
  P("startup + Terminate", ALICE, typed("X", Buffer.alloc(0))),
  P("startup + unterminated password", ALICE, typed("p", Buffer.from("abc"))),
  P("startup + password with two strings", ALICE, typed("p", Buffer.from("x\0\0"))),
  P("startup + password length 4", ALICE, typed("p", Buffer.alloc(0))),
  P("startup + password length 2", ALICE, Buffer.from("p"), be32(2)),
  P("startup + password length 65535", ALICE, Buffer.from("p"), be32(65_535), Buffer.alloc(10)),
  P("startup + password length 65536", ALICE, Buffer.from("p"), be32(65_536), Buffer.alloc(10)),
  P("protocol 0.0", packet(be32(0))),
  P("protocol 0.5", packet(be32(5))),
  P("protocol 1.0", packet(Buffer.concat([be32(0x00010000), Buffer.alloc(30)]))),
  P("protocol 2.0", startup([["user", "alice"]], 0x00020000)),
  P("protocol 3.1", startup([["user", "alice"]], 0x00030001)),
  P("protocol 3.1 without user", startup([], 0x00030001)),
  P("protocol 4.0", startup([["user", "alice"]], 0x00040000)),
  P(
    "_pq_ options",
    startup(
      [
        ["user", "alice"],
        ["_pq_.a", "1"],
        ["_pq_", "x"],
        ["_pq_.b", "2"]
      ],
      0x00030002
    )
  ),
  P(
    "replication true",
    startup([
      ["user", "alice"],
      ["replication", "true"]
    ])
  ),
  P(
    "replication database",
    startup([
      ["user", "alice"],
      ["replication", "database"]
    ])
  ),
  P(
    "replication on",
    startup([
      ["user", "alice"],
      ["replication", "on"]
    ])
  ),
  P(
    "replication o",
    startup([
      ["user", "alice"],
      ["replication", "o"]
    ])
  ),
  P(
    "replication DATABASE",
    startup([
      ["user", "alice"],
      ["replication", "DATABASE"]
    ])
  ),
  P(
    "replication maybe",
    startup([
      ["user", "alice"],
      ["replication", "maybe"]
    ])
  ),
  P(
    "replication empty",
    startup([
      ["user", "alice"],
      ["replication", ""]
    ])
  ),
  P("startup without terminator", packet(Buffer.concat([be32(0x00030000), Buffer.from("user\0alice\0")]))),
  P(
    "startup, name without value",
    packet(Buffer.concat([be32(0x00030000), Buffer.from("user\0alice\0foo\0\0")]))
  ),
  P("startup, version only", Buffer.concat([be32(8), be32(0x00030000)])),
  P("startup, version and terminator", Buffer.concat([be32(9), be32(0x00030000), Buffer.alloc(1)])),
  P("length 0", be32(0)),
  P("length 4", be32(4)),
  P("length 7", be32(7), Buffer.from([0, 3, 0])),
  P("length 10004", be32(10_004), be32(0x00030000), Buffer.alloc(10)),
  P("length 10005", be32(10_005), be32(0x00030000), Buffer.alloc(10)),
  P("truncated startup", be32(50), be32(0x00030000), Buffer.from("user\0")),
  P("HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
  P("TLS ClientHello", Buffer.from(`16030100a5010000a10303${"00".repeat(40)}`, "hex"))
]

/** The MD5 salt is random on both sides. */
const normalise = (reply: Buffer) =>
  reply.toString("latin1").replace(/R\0\0\0\x0c\0\0\0\x05[\s\S]{4}/g, "R\0\0\0\x0c\0\0\0\x05<salt>")

const psql = (port: number, conninfo: string) =>
  new Promise<string>((resolve) => {
    execFile(
      "psql",
      [`host=127.0.0.1 port=${port} ${conninfo}`, "-c", "select 1"],
      { timeout: 20_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: "Secret1!" } },
      (err, stdout, stderr) =>
        resolve(
          `exit ${err === null ? 0 : String(err.code)}\n${stdout}${stderr}`.replaceAll(
            `port ${port}`,
            "port N"
          )
        )
    )
  })

suite("postgres: the emulator answers probes as Debian's PostgreSQL 15 does", () => {
  let real: RealServer | undefined
  let fake: Proc | undefined
  let fakePort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-postgres-emu-"))

  beforeAll(async () => {
    real = await start({ host: "127.0.0.1", port: await freePort() })
    fakePort = await freePort()
    fake = decnet(
      [
        "honeypot",
        "postgres",
        "--host",
        "127.0.0.1",
        "--port",
        String(fakePort),
        "--config",
        JSON.stringify(emulatorConfig)
      ],
      cleanEnv({ HOME: dir })
    )
    await untilAnswered(
      [fake],
      [() => probe("127.0.0.1", fakePort, OUR_PROBES[0]?.bytes ?? Buffer.alloc(0), 50)]
    )
  }, 120_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("answers nmap's probes for 5432 and the startup error cases with the same bytes and ending", async () => {
    const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), 5432), ...OUR_PROBES]
    expect(corpus.map((c) => c.name)).toContain("SMBProgNeg")
    const found = await differences(
      { host: real?.host ?? "", port: real?.port ?? 0 },
      { host: "127.0.0.1", port: fakePort },
      corpus,
      accepted,
      { realName: "postgres 15", normalise }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("gives psql the same answers (sslmode disable and prefer, known and unknown databases, no user)", async () => {
    for (const conninfo of [
      "user=alice dbname=postgres sslmode=disable",
      "user=alice dbname=nosuchdb sslmode=prefer",
      "user=postgres sslmode=prefer application_name=etl",
      "user='' sslmode=disable"
    ]) {
      const [a, b] = await Promise.all([psql(real?.port ?? 0, conninfo), psql(fakePort, conninfo)])
      expect(a).toContain("FATAL:")
      expect(b, conninfo).toBe(a)
    }
  }, 60_000)
})

suite("postgres with ssl = on: the emulator offers PostgreSQL 15's TLS after an SSLRequest", () => {
  let real: RealServer | undefined
  let fakePort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-postgres-tls-"))

  beforeAll(async () => {
    real = await startPostgres({ host: "127.0.0.1", port: await freePort(), ssl: true })
    fakePort = await freePort()
    const fake = decnet(
      [
        "honeypot",
        "postgres",
        "--host",
        "127.0.0.1",
        "--port",
        String(fakePort),
        "--config",
        JSON.stringify({ ...emulatorConfig, ssl: true })
      ],
      cleanEnv({ HOME: dir })
    )
    await untilAnswered([fake], [() => probe("127.0.0.1", fakePort, SSL, 50)], {
      ok: (o) => o.reply.toString("latin1") === "S"
    })
  }, 120_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("accepts the same TLS versions and suites in the server's order, one group, the same DHE, no tickets", async () => {
    const [a, b] = await Promise.all([
      scanTls("127.0.0.1", real?.port ?? 0, upgrades.postgres),
      scanTls("127.0.0.1", fakePort, upgrades.postgres)
    ])
    console.log(`postgres 15 SSLRequest:\n  ${describeSurface(a).join("\n  ")}`)
    // What was measured on PostgreSQL 15 with its defaults (so a broken scan cannot pass as equal).
    expect(a.versions.map((v) => `${v.version} ${v.order} ${v.suites.length}`)).toEqual([
      "TLSv1.2 server 44",
      "TLSv1.3 server 3"
    ])
    const found = surfaceDifferences(a, b, accepted, "postgres 15")
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("gives psql with sslmode=require the same answer", async () => {
    const conninfo = "user=alice dbname=postgres sslmode=require"
    const [a, b] = await Promise.all([psql(real?.port ?? 0, conninfo), psql(fakePort, conninfo)])
    expect(a).toContain("FATAL:")
    expect(b).toBe(a)
  }, 60_000)
})
