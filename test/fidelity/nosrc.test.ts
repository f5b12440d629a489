// Fidelity for the emulators with no Debian counterpart (issue 14): mssql, mongodb and rdp. With no real
// server to compare against, they are held to nmap's own signature database and to the protocol documents:
// - nmap -sV (as root, each on its default port on an address of 127.14.8.0/24) names each as its persona
//   claims, never "unknown" or "tcpwrapped", with the version where nmap has a signature for it;
// - the fixed packets are checked byte by byte against MS-TDS (PRELOGIN), the MongoDB wire protocol
//   (OP_REPLY, the OP_QUERY removal of 5.1, the HTTP page of the driver port) and MS-RDPBCGR (Connection
//   Confirm, RDP_NEG_RSP / RDP_NEG_FAILURE);
// - rdp's TLS (after the X.224 negotiation) against Windows Server 2019's documented Schannel defaults
//   (tlsPersonas.ts); accepted differences: accepted/rdp.ts.
import { existsSync, readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeDocument, doc, encodeDocument } from "../../src/honeypots/mongodb/Bson.js"
import { HTTP_ON_DRIVER_PORT } from "../../src/honeypots/mongodb/index.js"
import { parsePrelogin, preloginResponse } from "../../src/honeypots/mssql/index.js"
import { connectionConfirm, negotiate, negotiationFailure } from "../../src/honeypots/rdp/index.js"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import { accepted as rdpAccepted } from "./accepted/rdp.js"
import { describeScan, NMAP, type NmapScan, nmapScan } from "./nmap.js"
import { listening, nmapProbes, probe } from "./probe.js"
import { documentedDifferences, SCHANNEL_2019 } from "./tlsPersonas.js"
import { describeSurface, scanTls, upgrades } from "./tlsScan.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const nmapReady = (existsSync(NMAP) && existsSync(PROBES_FILE) && process.getuid?.() === 0) || onCi
const probeBytes = (name: string, port: number): Buffer => {
  const p = nmapProbes(readFileSync(PROBES_FILE, "utf8"), port).find((x) => x.name === name)
  if (p === undefined) throw new Error(`no nmap probe ${name} for ${port}`)
  return p.bytes
}

/** Each emulator from the CLI on its default port; two deckies where the persona's release changes the answer. */
const TARGETS = [
  { key: "mssql-a", slug: "mssql", host: "127.14.8.51", port: 1433, name: "db02", config: {} },
  { key: "mssql-b", slug: "mssql", host: "127.14.8.52", port: 1433, name: "decky-01", config: {} },
  { key: "mongodb-a", slug: "mongodb", host: "127.14.8.53", port: 27017, name: "db03", config: {} },
  { key: "mongodb-b", slug: "mongodb", host: "127.14.8.54", port: 27017, name: "decky-01", config: {} },
  { key: "rdp", slug: "rdp", host: "127.14.8.55", port: 3389, name: "decky-01", config: {} },
  { key: "rdp-nla", slug: "rdp", host: "127.14.8.56", port: 3389, name: "decky-01", config: { nla: true } }
] as const

/** A TDS PRELOGIN with the given options (token, data), as a client lays it out (MS-TDS §2.2.6.5). */
const prelogin = (options: ReadonlyArray<readonly [number, Buffer]>): Buffer => {
  const table = Buffer.alloc(options.length * 5 + 1)
  let offset = table.length
  options.forEach(([token, data], i) => {
    table[i * 5] = token
    table.writeUInt16BE(offset, i * 5 + 1)
    table.writeUInt16BE(data.length, i * 5 + 3)
    offset += data.length
  })
  table[table.length - 1] = 0xff
  const payload = Buffer.concat([table, ...options.map(([, d]) => d)])
  const h = Buffer.from([0x12, 0x01, 0, 0, 0, 0, 0, 0])
  h.writeUInt16BE(payload.length + 8, 2)
  return Buffer.concat([h, payload])
}

/** A legacy OP_QUERY of `{ <command>: 1 }` on admin.$cmd. */
const opQuery = (command: string): Buffer => {
  const body = Buffer.concat([
    Buffer.alloc(4),
    Buffer.from("admin.$cmd\0"),
    Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    encodeDocument(doc([[command, 1]]))
  ])
  const h = Buffer.alloc(16)
  h.writeInt32LE(body.length + 16, 0)
  h.writeInt32LE(7, 4)
  h.writeInt32LE(2004, 12)
  return Buffer.concat([h, body])
}

/** An OP_MSG of `{ <command>: 1, $db: "admin" }`. */
const opMsg = (command: string): Buffer => {
  const body = Buffer.concat([
    Buffer.alloc(4),
    Buffer.from([0]),
    encodeDocument(
      doc([
        [command, 1],
        ["$db", "admin"]
      ])
    )
  ])
  const h = Buffer.alloc(16)
  h.writeInt32LE(body.length + 16, 0)
  h.writeInt32LE(9, 4)
  h.writeInt32LE(2013, 12)
  return Buffer.concat([h, body])
}

/** The reply document of an OP_REPLY (16-byte header, 20 bytes of flags/cursor/counts) or an OP_MSG. */
const replyDocument = (reply: Buffer): Map<string, unknown> => {
  const opcode = reply.readInt32LE(12)
  const at = opcode === 1 ? 36 : 21
  const d = decodeDocument(reply, at)
  if (d._tag === "Left") throw new Error("undecodable reply")
  return new Map(d.right[0])
}

describe("mssql: the PRELOGIN response as MS-TDS lays it out and nmap's signatures expect", () => {
  it("answers nmap's ms-sql-s probe with VERSION/ENCRYPTION/INSTOPT/THREADID, offsets from the table", () => {
    const bytes = preloginResponse(
      ["2019", 15, 0, 4335, 1],
      parsePrelogin(Buffer.alloc(1, 0xff)) ?? new Map()
    )
    // Four options of 5 bytes + the terminator: data from offset 21 (0x15).
    expect(bytes.subarray(0, 21).toString("hex")).toBe("000015000601001b000102001c000103001d0000ff")
    // VERSION: major 15, minor 0, build 4335 big-endian, sub-build 1; ENCRYPT_NOT_SUP; INSTOPT 0.
    expect(bytes.subarray(21).toString("hex")).toBe(`0f0010ef0001${"02"}${"00"}`)
  })

  it("echoes MARS and FEDAUTHREQUIRED only when the client sent them; INSTOPT 1 for another instance", () => {
    const client = parsePrelogin(
      prelogin([
        [0x00, Buffer.from("0800015500000000", "hex").subarray(0, 6)],
        [0x01, Buffer.from([0x00])],
        [0x02, Buffer.from("SQLEXPRESS\0")],
        [0x03, Buffer.from([1, 2, 3, 4])],
        [0x04, Buffer.from([0x00])],
        [0x05, Buffer.alloc(36)],
        [0x06, Buffer.from([0x01])]
      ]).subarray(8)
    )
    expect(client === undefined ? [] : [...client.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6])
    const r = preloginResponse(["2017", 14, 0, 3460, 9], client ?? new Map())
    const tokens: Array<[number, number, number]> = []
    for (let at = 0; r[at] !== 0xff; at += 5)
      tokens.push([r[at]!, r.readUInt16BE(at + 1), r.readUInt16BE(at + 3)])
    // No TRACEID (0x05) from a server; THREADID empty; each offset follows the previous option's data.
    expect(tokens).toEqual([
      [0x00, 31, 6],
      [0x01, 37, 1],
      [0x02, 38, 1],
      [0x03, 39, 0],
      [0x04, 39, 1],
      [0x06, 40, 1]
    ])
    expect(r[38]).toBe(1)
    expect(r.length).toBe(41)
  })

  it("rejects a PRELOGIN whose option points past its end", () => {
    expect(parsePrelogin(Buffer.from("000020000601ff", "hex"))).toBeUndefined()
    expect(parsePrelogin(Buffer.from("0000", "hex"))).toBeUndefined()
  })
})

describe("rdp: the Connection Confirm as MS-RDPBCGR lays it out and Windows negotiates", () => {
  it("RDP_NEG_RSP selecting HYBRID with Windows 10's flags is nmap's 'Windows 10' signature byte for byte", () => {
    expect(connectionConfirm(2).toString("latin1")).toBe(
      "\x03\0\0\x13\x0e\xd0\0\0\x124\0\x02\x1f\x08\0\x02\0\0\0"
    )
  })

  it("RDP_NEG_FAILURE: type 3, flags 0, length 8, the failure code", () => {
    expect(negotiationFailure(5).toString("hex")).toBe("030000130ed000001234000300080005000000")
  })

  it("negotiates as Windows: CredSSP when offered, else TLS, else RDP; HYBRID_REQUIRED under NLA", () => {
    const table = [undefined, 0, 1, 2, 3, 0x0b, 8].map((r) => [r, negotiate(r, false), negotiate(r, true)])
    expect(table).toEqual([
      [undefined, { _tag: "legacy" }, { _tag: "failure", code: 5 }],
      [0, { _tag: "selected", protocol: 0 }, { _tag: "failure", code: 5 }],
      [1, { _tag: "selected", protocol: 1 }, { _tag: "failure", code: 5 }],
      [2, { _tag: "selected", protocol: 2 }, { _tag: "selected", protocol: 2 }],
      [3, { _tag: "selected", protocol: 2 }, { _tag: "selected", protocol: 2 }],
      [0x0b, { _tag: "selected", protocol: 8 }, { _tag: "selected", protocol: 8 }],
      [8, { _tag: "selected", protocol: 0 }, { _tag: "failure", code: 5 }]
    ])
  })
})

const suite = nmapReady ? describe : describe.skip

suite("nmap -sV names mssql, mongodb and rdp as their personas claim, on their default ports", () => {
  const scans = new Map<string, NmapScan>()

  beforeAll(async () => {
    for (const t of TARGETS)
      decnet(
        [
          "honeypot",
          t.slug,
          "--host",
          t.host,
          "--port",
          String(t.port),
          "--name",
          t.name,
          "--config",
          JSON.stringify(t.config)
        ],
        cleanEnv({})
      )
    const up = await waitUntil(async () => {
      const open = await Promise.all(TARGETS.map((t) => listening(t.host, t.port)))
      return open.every(Boolean)
    }, 30_000)
    if (!up) throw new Error("the emulators did not come up")
    // All scans at once: the slowest (a mongod ≥ 5.1, named by its HTTP page) takes about 16 s.
    await Promise.all(TARGETS.map(async (t) => scans.set(t.key, await nmapScan(t.host, [t.port]))))
    for (const t of TARGETS) {
      const s = scans.get(t.key)
      if (s !== undefined)
        console.log(`${t.key} (${t.host}): ${describeScan(s)}  [${s.seconds.toFixed(1)} s]`)
    }
  }, 90_000)

  afterAll(async () => {
    await stopAll()
  })

  const port = (key: string) => scans.get(key)?.ports[0]

  it("mssql: ms-sql-s, the release nmap has a signature for, and its build", async () => {
    for (const key of ["mssql-a", "mssql-b"]) {
      const t = TARGETS.find((x) => x.key === key)!
      const o = await probe(t.host, t.port, probeBytes("ms-sql-s", 1433))
      // The packet header nmap matches: TABULAR_RESULT, EOM, length 0x25, SPID 0, packet 1.
      expect(o.reply.subarray(0, 8).toString("hex")).toBe("0401002500000100")
      const [major, , hi, lo] = o.reply.subarray(29, 33)
      const build = ((hi ?? 0) << 8) | (lo ?? 0)
      const year = { 13: "2016", 14: "2017", 15: "2019" }[major ?? 0]
      const p = port(key)
      expect(p?.service, describeScan(scans.get(key)!)).toBe("ms-sql-s")
      expect(p?.method).toBe("probed")
      // nmap has no SQL Server 2022 (16.x) signature: its softmatch names the product alone, as for a real one.
      expect(p?.shown).toBe(
        year === undefined ? "Microsoft SQL Server" : `Microsoft SQL Server ${year} ${major}.00.${build}`
      )
    }
  })

  it("mongodb: nmap's serverStatus probe names an auth-less 4.4/5.0 with its version; ≥ 5.1 by its HTTP page", async () => {
    for (const key of ["mongodb-a", "mongodb-b"]) {
      const t = TARGETS.find((x) => x.key === key)!
      const info = replyDocument((await probe(t.host, t.port, opMsg("buildInfo"))).reply)
      const version = String(info.get("version"))
      const modern = !/^(4\.|5\.0\.)/.test(version)
      // The build a release ships as: Ubuntu 22.04 / OpenSSL 3 only from 6.0.4; community engines only.
      const env = info.get("buildEnvironment")
      expect(env instanceof Map ? env.get("distmod") : undefined).toBe(modern ? "ubuntu2204" : "ubuntu2004")
      expect(info.get("storageEngines")).not.toContain("inMemory")
      const status = replyDocument((await probe(t.host, t.port, probeBytes("mongodb", 27017))).reply)
      if (modern) {
        expect(status.get("code")).toBe(352)
        expect(status.get("codeName")).toBe("UnsupportedOpQueryCommand")
      } else expect(status.get("version")).toBe(version)
      const p = port(key)
      expect(p?.service, describeScan(scans.get(key)!)).toBe("mongodb")
      expect(p?.shown).toBe(modern ? "MongoDB 2.5.1 or later" : `MongoDB ${version}`)
    }
  })

  it("mongodb: OP_QUERY hello still answers on every release; an HTTP GET gets mongod's page and a close", async () => {
    const t = TARGETS[3]
    const hello = replyDocument((await probe(t.host, t.port, opQuery("isMaster"))).reply)
    expect(hello.get("ismaster")).toBe(true)
    const http = await probe(t.host, t.port, Buffer.from("GET / HTTP/1.0\r\n\r\n"))
    expect(http.reply.toString("latin1")).toBe(HTTP_ON_DRIVER_PORT)
    expect(http.ending).toBe("closed")
  })

  it("rdp: ms-wbt-server, Microsoft Terminal Services, with NLA required or not", async () => {
    for (const key of ["rdp", "rdp-nla"]) {
      const p = port(key)
      expect(p?.service, describeScan(scans.get(key)!)).toBe("ms-wbt-server")
      expect(p?.shown).toBe("Microsoft Terminal Services")
    }
    // nmap's TerminalServerCookie probe offers SSL|HYBRID: both select HYBRID with flags 0x1f.
    const o = await probe(TARGETS[5].host, 3389, probeBytes("TerminalServerCookie", 3389))
    expect(o.reply.toString("hex")).toBe("030000130ed00000123400021f080002000000")
    // A pre-Vista request (no RDP_NEG_REQ): a bare Connection Confirm, or HYBRID_REQUIRED_BY_SERVER under NLA.
    const bare = await probe(TARGETS[4].host, 3389, probeBytes("TerminalServer", 3389))
    expect(bare.reply.toString("hex")).toBe("0300000b06d00000123400")
    const nla = await probe(TARGETS[5].host, 3389, probeBytes("TerminalServer", 3389))
    expect(nla.reply.toString("hex")).toBe("030000130ed000001234000300080005000000")
    expect(nla.ending).toBe("closed")
  })

  it("none of the three is unknown or tcpwrapped", () => {
    for (const t of TARGETS) {
      expect(port(t.key)?.state).toBe("open")
      expect(port(t.key)?.method).toBe("probed")
      expect(port(t.key)?.service).not.toMatch(/unknown|tcpwrapped/)
    }
  })
})

describe("rdp: the TLS after the X.224 negotiation is Windows Server 2019's Schannel default", () => {
  let port = 0

  beforeAll(async () => {
    port = await freePort()
    const fake = decnet(["honeypot", "rdp", "--host", "127.0.0.1", "--port", String(port)], cleanEnv({}))
    const up = await waitUntil(() => listening("127.0.0.1", port), 30_000)
    if (!up) throw new Error(`the emulator did not listen:\n${fake.stderr()}`)
  }, 60_000)

  afterAll(async () => {
    await stopAll()
  })

  it("TLS 1.0 to 1.2, Schannel's default suites in its priority order, its curves, no tickets", async () => {
    const scan = await scanTls("127.0.0.1", port, upgrades.rdp)
    console.log(`rdp emulator (${SCHANNEL_2019.source}):\n  ${describeSurface(scan).join("\n  ")}`)
    const found = documentedDifferences(scan, SCHANNEL_2019, rdpAccepted)
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)
})
