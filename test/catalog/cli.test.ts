// `decnet services | distros | archetypes` as a user runs them: a spawned CLI, parsed output.
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Archetype, Distro, ServiceSpec } from "../../src/catalog/index.js"
import { formatPorts, renderTable, TABLE_WIDTH } from "../../src/cli/catalog.js"
import { refusalMessage } from "../../src/cli/mode.js"
import { DECNET } from "../support/cli.js"
import { spawnAsync } from "../support/spawn.js"

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnAsync(process.execPath, [...DECNET, ...args], {
    env: { ...process.env, DECNET_MODE: "master", ...env },
    timeout: 60_000
  })

const jsonOf = async <A, I>(
  schema: Schema.Schema<A, I>,
  args: ReadonlyArray<string>
): Promise<ReadonlyArray<A>> => {
  const r = await run(args)
  expect(r.stderr).toBe("")
  expect(r.status).toBe(0)
  return Schema.decodeUnknownSync(Schema.Array(schema))(JSON.parse(r.stdout))
}

const tableOf = async (command: string) => {
  const r = await run([command])
  expect(r.status).toBe(0)
  const lines = r.stdout.trimEnd().split("\n")
  // Row starts are the lines whose first column is filled; continuation lines begin with spaces.
  return { lines, rows: lines.slice(2).filter((l) => !l.startsWith(" ")) }
}

describe("decnet services", () => {
  it("--json: all 29 plugins with their ports, sorted by slug", async () => {
    const services = await jsonOf(ServiceSpec, ["services", "--json"])
    expect(services).toHaveLength(29)
    const slugs = services.map((s) => s.slug)
    expect(slugs).toEqual([...slugs].sort())
    const ports = Object.fromEntries(services.map((s) => [s.slug, s.ports]))
    expect(ports.ssh).toEqual({ tcp: [22], udp: [] })
    expect(ports.smb).toEqual({ tcp: [445, 139], udp: [] })
    expect(ports.dns).toEqual({ tcp: [53], udp: [53] })
    expect(ports.tftp).toEqual({ tcp: [], udp: [69] })
    expect(ports.sniffer).toEqual({ tcp: [], udp: [] })
    expect(services.filter((s) => s.fleet_singleton).map((s) => s.slug)).toEqual(["sniffer"])
  })

  it("the table lists every plugin once, within 110 columns", async () => {
    const { lines, rows } = await tableOf("services")
    expect(lines[0]).toMatch(/^SLUG\s+PORTS\s+EMULATES\s+CONFIG$/)
    expect(rows).toHaveLength(29)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH)
    expect(rows.find((l) => l.startsWith("llmnr "))).toContain("5355/udp, 5353/udp")
    expect(rows.find((l) => l.startsWith("sip "))).toContain("5060, 5060/udp")
  })
})

describe("decnet archetypes", () => {
  it("the table has 15 rows with services and OS family", async () => {
    const { lines, rows } = await tableOf("archetypes")
    expect(lines[0]).toMatch(/^SLUG\s+DISPLAY NAME\s+SERVICES\s+PREFERRED DISTROS\s+NMAP OS$/)
    expect(rows).toHaveLength(15)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH)
    expect(rows.find((l) => l.startsWith("domain-controller "))).toMatch(
      /ldap, smb, rdp, llmnr.*windows_server$/
    )
  })

  it("--json: 15 entries in the ArchetypeEntry shape", async () => {
    const archetypes = await jsonOf(Archetype, ["archetypes", "--json"])
    expect(archetypes).toHaveLength(15)
    expect(archetypes.find((a) => a.slug === "devops-host")).toMatchObject({
      display_name: "DevOps Host",
      services: ["docker_api", "ssh", "k8s"],
      preferred_distros: ["ubuntu22", "debian"],
      nmap_os: "linux"
    })
  })
})

describe("decnet distros", () => {
  it("--json: 9 digest-pinned distros; the table shows 9 rows", async () => {
    const distros = await jsonOf(Distro, ["distros", "--json"])
    expect(distros.map((d) => d.slug)).toEqual([
      "alpine",
      "arch",
      "centos7",
      "debian",
      "fedora",
      "kali",
      "rocky9",
      "ubuntu20",
      "ubuntu22"
    ])
    const { lines, rows } = await tableOf("distros")
    expect(rows).toHaveLength(9)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH)
    // Digest column: the first 12 hex digits of the pinned image.
    expect(rows.find((l) => l.startsWith("debian "))).toMatch(/debian:bookworm-slim\s+f9c6a2fd2ddb\s+generic/)
  })
})

describe("role gating", () => {
  it.each(["services", "distros", "archetypes"])(
    "an agent refuses `%s` with exit 1 and the spec's message",
    async (cmd) => {
      const r = await run([cmd, "--json"], { DECNET_MODE: "agent" })
      expect(r.status).toBe(1)
      expect(r.stdout).toBe("")
      expect(r.stderr).toBe(`decnet: ${refusalMessage(cmd)}\n`)
      expect(r.stderr).toContain("is a master-only command")
    }
  )

  it("a dual-role agent (DECNET_DISALLOW_MASTER=false) may list", async () => {
    const r = await run(["archetypes", "--json"], { DECNET_MODE: "agent", DECNET_DISALLOW_MASTER: "false" })
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toHaveLength(15)
  })
})

describe("renderTable", () => {
  it("aligns columns, wraps a long cell at spaces, and splits one over-long word", () => {
    const out = renderTable(
      [{ header: "A" }, { header: "B", max: 10 }, { header: "C" }],
      [
        ["x", "one two three four", "end"],
        ["yy", "abcdefghijklmno", "z"]
      ]
    )
    expect(out.split("\n")).toEqual([
      "A   B           C",
      "--  ----------  ---",
      "x   one two     end",
      "    three four",
      "yy  abcdefghij  z",
      "    klmno"
    ])
  })

  it("formats ports by transport", () => {
    expect(formatPorts({ tcp: [80, 443], udp: [] })).toBe("80, 443")
    expect(formatPorts({ tcp: [53], udp: [53] })).toBe("53, 53/udp")
    expect(formatPorts({ tcp: [], udp: [] })).toBe("-")
  })
})
