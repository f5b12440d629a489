// The deployment INI loader (spec/fleet.md §5): every rule and error text, configparser's reading rules,
// the file loader on real files, and hostile input (any text yields a config or an IniError, never a throw).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import fc from "fast-check"
import {
  type IniConfig,
  IniConfig as IniConfigSchema,
  IniError,
  loadIniFile,
  loadIniFromString,
  MAX_INI_CHARS,
  parseIniFile
} from "../../src/fleet/Ini.js"

const ok = (text: unknown): IniConfig => {
  const result = loadIniFromString(text)
  if (Either.isLeft(result)) throw new Error(`expected a config, got: ${result.left.message}`)
  return result.right
}
const fails = (text: unknown): string => {
  const result = loadIniFromString(text)
  if (Either.isRight(result)) throw new Error(`expected an IniError, got ${JSON.stringify(result.right)}`)
  expect(result.left).toBeInstanceOf(IniError)
  return result.left.message
}
const decky = (cfg: IniConfig, name: string) => cfg.deckies.find((d) => d.name === name)

const EXAMPLE = `
# A deployment, as in the original's decnet.ini.example
[general]
net=192.168.1.0/24
gw=192.168.1.1
interface=wlp6s0

[hostname-1]
ip=192.168.1.82
services=ssh, smb
nmap_os=bsd
mutate_interval=15

[hostname-1.ssh]
kernel_version=5.15.0-76-generic
users=root:toor,admin:admin123

[hostname-1.http]
server_header=nginx/1.18.0
fake_app=wordpress

[hostname-2]
services=ssh
nmap-os=windows
mutate-interval=45

[hostname-3]
ip=192.168.1.32

[corp-workstations]
archetype=windows-workstation
amount=5

[corp-workstations.smb]
workgroup=CORP

[custom-myservice]
binary=my-docker-image:latest
exec=/usr/bin/myservice -p 8080
ports=8080, 9090 ,abc, 0, 70000,
`

describe("the deployment INI", () => {
  it("reads [general], decky sections, amount expansion, subsections and custom sections", () => {
    const cfg = ok(EXAMPLE)
    expect(cfg.subnet).toBe("192.168.1.0/24")
    expect(cfg.gateway).toBe("192.168.1.1")
    expect(cfg.interface).toBe("wlp6s0")
    expect(cfg.deckies.map((d) => d.name)).toEqual([
      "hostname-1",
      "hostname-2",
      "hostname-3",
      "corp-workstations-01",
      "corp-workstations-02",
      "corp-workstations-03",
      "corp-workstations-04",
      "corp-workstations-05"
    ])
    expect(decky(cfg, "hostname-1")).toEqual({
      name: "hostname-1",
      ip: "192.168.1.82",
      services: ["ssh", "smb"],
      archetype: null,
      service_config: {
        ssh: { kernel_version: "5.15.0-76-generic", users: "root:toor,admin:admin123" },
        http: { server_header: "nginx/1.18.0", fake_app: "wordpress" }
      },
      nmap_os: "bsd",
      mutate_interval: 15
    })
    // The hyphenated spellings.
    expect(decky(cfg, "hostname-2")).toMatchObject({
      services: ["ssh"],
      nmap_os: "windows",
      mutate_interval: 45
    })
    expect(decky(cfg, "hostname-3")).toMatchObject({ ip: "192.168.1.32", services: null, archetype: null })
    // A group's subsection applies to every expanded decky; each keeps the group's settings.
    for (let i = 1; i <= 5; i++)
      expect(decky(cfg, `corp-workstations-0${i}`)).toMatchObject({
        ip: null,
        archetype: "windows-workstation",
        service_config: { smb: { workgroup: "CORP" } }
      })
    // Ports: non-digits (and impossible ports) dropped.
    expect(cfg.custom_services).toEqual([
      {
        name: "myservice",
        image: "my-docker-image:latest",
        exec_cmd: "/usr/bin/myservice -p 8080",
        ports: [8080, 9090]
      }
    ])
    expect(Schema.is(IniConfigSchema)(cfg)).toBe(true)
  })

  it("reads the example in docs/fleet.md as the text around it says", () => {
    const doc = readFileSync(join(import.meta.dirname, "../../docs/fleet.md"), "utf8")
    const example = /```ini\n([\s\S]*?)```/.exec(doc)?.[1] ?? ""
    const cfg = ok(example)
    expect(cfg.deckies.map((d) => d.name)).toEqual(["web-01", "web-02", "web-03", "db-01"])
    expect(cfg.deckies[2]?.service_config).toEqual({ http: { server_header: "nginx/1.18.0" } })
    expect(cfg.deckies[3]).toMatchObject({
      nmap_os: "linux",
      mutate_interval: 60,
      services: ["mysql", "redis"]
    })
    expect(cfg.custom_services).toHaveLength(1)
  })

  it("expands amount= to two-digit suffixes up to 100", () => {
    const cfg = ok("[grp]\namount=100\n")
    expect(cfg.deckies).toHaveLength(100)
    expect(cfg.deckies[0]?.name).toBe("grp-01")
    expect(cfg.deckies[9]?.name).toBe("grp-10")
    expect(cfg.deckies[99]?.name).toBe("grp-100")
    expect(ok("[one]\namount=1\n").deckies.map((d) => d.name)).toEqual(["one"])
    // Python int(): sign, leading zeros and digit separators.
    expect(ok("[g]\namount=+0_3\n").deckies.map((d) => d.name)).toEqual(["g-01", "g-02", "g-03"])
  })

  it("tells a service subsection from a dotted decky name by its last segment", () => {
    const cfg = ok(
      [
        "[decky.webmail]", // not a service: a decky with a dot in its name
        "services=imap",
        "[a.b]",
        "[a.b.ssh]", // decky 'a.b', service ssh
        "password=x",
        "[ghost.ssh]", // no decky ghost or ghost-*: ignored
        "password=y",
        "[custom-x.redis]", // a subsection (checked before custom-)
        "k=v"
      ].join("\n")
    )
    expect(cfg.deckies.map((d) => d.name)).toEqual(["decky.webmail", "a.b"])
    expect(decky(cfg, "a.b")?.service_config).toEqual({ ssh: { password: "x" } })
    expect(cfg.custom_services).toEqual([])
    // A direct match wins over the prefix match; without one, every `<name>-*` decky gets it.
    const group = ok("[web]\namount=2\n[web-proxy]\n[web.http]\nk=v\n")
    expect(group.deckies.map((d) => [d.name, d.service_config])).toEqual([
      ["web-01", { http: { k: "v" } }],
      ["web-02", { http: { k: "v" } }],
      ["web-proxy", { http: { k: "v" } }]
    ])
    const direct = ok("[web]\n[web-01]\n[web.http]\nk=v\n")
    expect(direct.deckies.map((d) => [d.name, d.service_config])).toEqual([
      ["web", { http: { k: "v" } }],
      ["web-01", {}]
    ])
    // The fleet singleton is a registered service too.
    expect(ok("[d]\n[d.sniffer]\niface=eth0\n").deckies[0]?.service_config).toEqual({
      sniffer: { iface: "eth0" }
    })
  })

  it("reads like configparser: comments, delimiters, case, continuation lines, [DEFAULT], repeats", () => {
    const cfg = ok(
      [
        "; a comment",
        "[DEFAULT]",
        "nmap_os = embedded",
        "[general]",
        "NET: 10.0.0.0/8",
        "  # an indented comment",
        "[d1]",
        "Services = ssh,",
        "   telnet",
        "",
        "   , ftp",
        "archetype = printer # not a comment: configparser has no inline comments",
        "[d1.ssh]",
        "password = p#ss;word = x:y",
        "[d2]",
        "nmap_os=linux",
        "services=ssh,,ssh ,",
        "[d1]",
        "ip = 10.0.0.9"
      ].join("\n")
    )
    expect(cfg.subnet).toBe("10.0.0.0/8")
    expect(decky(cfg, "d1")).toMatchObject({
      ip: "10.0.0.9", // a repeated section merges
      services: ["ssh", "telnet", "ftp"],
      archetype: "printer # not a comment: configparser has no inline comments",
      nmap_os: "embedded", // from [DEFAULT]
      // [DEFAULT] keys reach subsections too, as configparser's items() does.
      service_config: { ssh: { password: "p#ss;word = x:y", nmap_os: "embedded" } }
    })
    // Empty entries dropped, as are repeats; the section's own key beats [DEFAULT].
    expect(decky(cfg, "d2")).toMatchObject({ services: ["ssh"], nmap_os: "linux" })
    // A repeated key: the last value wins (the web body's lenient parser).
    expect(decky(ok("[d]\nip=10.0.0.1\nip=10.0.0.2\n"), "d")?.ip).toBe("10.0.0.2")
    // Empty values are absent values.
    expect(
      decky(ok("[d]\nip=\nservices=\narchetype=\nnmap_os=\nnmap-os=bsd\nmutate_interval=\n"), "d")
    ).toEqual({
      name: "d",
      ip: null,
      services: null,
      archetype: null,
      service_config: {},
      nmap_os: "bsd",
      mutate_interval: null
    })
    // Keys are data, never prototypes: `__proto__` is an ordinary own key.
    const proto = decky(ok("[d]\n[d.ssh]\n__proto__=x\nconstructor=y\n"), "d")?.service_config.ssh
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype)
    expect(Object.entries(proto ?? {})).toEqual([
      ["__proto__", "x"],
      ["constructor", "y"]
    ])
    // A section header needs no key; trailing text after the last `]` is ignored, as configparser's is.
    expect(ok("[a] trailing\n").deckies.map((d) => d.name)).toEqual(["a"])
  })

  it("normalises CRLF and CR line ends", () => {
    const lf = ok(EXAMPLE)
    expect(ok(EXAMPLE.replaceAll("\n", "\r\n"))).toEqual(lf)
    expect(ok(EXAMPLE.replaceAll("\n", "\r"))).toEqual(lf)
  })

  describe("errors, with the spec's texts", () => {
    it("content checks", () => {
      for (const bad of [42, null, undefined, { ini: "[a]" }, Buffer.from("[a]\n")])
        expect(fails(bad)).toBe("INI content must be a string")
      expect(fails("")).toBe("INI content is empty")
      expect(fails(" \n\t\r\n ")).toBe("INI content is empty")
      expect(fails("net=10.0.0.0/8\n[a]\n")).toBe("Invalid INI format: no sections found")
      expect(fails("# only a comment\n; and another\n")).toBe(
        "The provided INI content must contain at least one section (no sections found)"
      )
      expect(fails("[DEFAULT]\nservices=ssh\n")).toBe(
        "The provided INI content must contain at least one section (no sections found)"
      )
      expect(fails("[general]\nnet=10.0.0.0/8\n")).toBe("INI must contain at least one decky section")
      expect(fails("[custom-x]\nbinary=img\n")).toBe("INI must contain at least one decky section")
    })

    it("the 512 KiB limit, counted in characters after line-end normalisation", () => {
      const head = "[a]\n#"
      const exact = head + "x".repeat(MAX_INI_CHARS - head.length)
      expect(ok(exact).deckies).toHaveLength(1)
      expect(fails(exact + "x")).toBe("INI content is too large (max 512KB)")
      // An astral character is one character, as in Python.
      const astral = head + "\u{1F600}".repeat(MAX_INI_CHARS - head.length)
      expect(astral.length).toBeGreaterThan(MAX_INI_CHARS)
      expect(ok(astral).deckies).toHaveLength(1)
      // CRLF counts once: the same text with CRLF ends fits.
      const lines = `[a]\n${"#\n".repeat((MAX_INI_CHARS - 4) / 2)}`
      expect(lines.length).toBe(MAX_INI_CHARS)
      expect(ok(lines.replaceAll("\n", "\r\n")).deckies).toHaveLength(1)
      expect(fails("x".repeat(4 * MAX_INI_CHARS))).toBe("INI content is too large (max 512KB)")
    })

    it("section values", () => {
      expect(fails("[web]\nmutate_interval=ten\n")).toBe(
        "[web] mutate_interval= must be an integer, got 'ten'"
      )
      expect(fails("[web]\nmutate-interval=1.5\n")).toBe(
        "[web] mutate_interval= must be an integer, got '1.5'"
      )
      expect(fails("[web]\nmutate_interval=0\n")).toBe("[web] mutate_interval= must be at least 1, got '0'")
      for (const bad of ["0", "-1", "x", "", "1.0", "1e2", "1__0"])
        expect(fails(`[web]\namount=${bad}\n`)).toBe(`[web] amount= must be a positive integer, got '${bad}'`)
      expect(fails("[web]\namount=101\n")).toBe("[web] amount=101 exceeds maximum allowed (100).")
      expect(fails("[web]\namount=99999999999999999999999\n")).toBe(
        "[web] amount=99999999999999999999999 exceeds maximum allowed (100)."
      )
      expect(fails("[web]\nip=192.168.1.10\namount=3\n")).toBe(
        "[web] Cannot combine ip= with amount=3. Remove ip= or use amount=1."
      )
      expect(fails("[web]\nip=192.168.1.300\n")).toBe(
        "[web] ip= must be an IPv4 address, got '192.168.1.300'"
      )
      expect(fails("[my decky]\nservices=ssh\n")).toBe(
        "[my decky] 'my decky' is not a valid decky name: use 1-128 letters, digits, '-', '_' or '.'"
      )
      const long = "n".repeat(127)
      expect(ok(`[${long}]\n`).deckies[0]?.name).toBe(long)
      expect(fails(`[${long}]\namount=2\n`)).toMatch(/is not a valid decky name/)
      expect(fails("[web]\namount=2\n[web-01]\n")).toBe(
        "Duplicate decky name 'web-01': two sections (or a section's amount= expansion) produce it"
      )
    })

    it("lines that are neither a header nor key=value, listed with their numbers", () => {
      expect(fails("[a]\ngarbage\nk=v\n=value\n")).toBe(
        "Invalid INI format: Source contains parsing errors: [line 2]: 'garbage', [line 4]: '=value'"
      )
      const many = `[a]\n${"junk\n".repeat(50)}`
      const message = fails(many)
      expect(message.split("[line").length - 1).toBe(5)
      expect(message.endsWith(", …")).toBe(true)
    })

    it("quotes long operator text clipped, so one error stays one short line", () => {
      const huge = "y".repeat(10_000)
      expect(fails(`[web]\namount=${huge}\n`).length).toBeLessThan(200)
    })
  })

  describe("the file loader", () => {
    const dir = mkdtempSync(join(tmpdir(), "decnet-ini-"))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))
    const load = (path: string) => loadIniFile(path).pipe(Effect.provide(NodeFileSystem.layer), Effect.either)

    it.effect("loads a file, and is strict about repeated sections and keys", () =>
      Effect.gen(function* () {
        const path = join(dir, "deploy.ini")
        writeFileSync(path, `\uFEFF${EXAMPLE.replaceAll("\n", "\r\n")}`)
        const loaded = yield* load(path)
        expect(Either.getOrThrow(loaded)).toEqual(ok(EXAMPLE))

        writeFileSync(path, "[a]\nip=10.0.0.1\n[b]\n[a]\n")
        expect(Either.flip(yield* load(path)).pipe(Either.map((e) => e.message))).toEqual(
          Either.right("Invalid INI format: [line 4]: section 'a' already exists")
        )
        writeFileSync(path, "[a]\nip=10.0.0.1\nIP=10.0.0.2\n")
        expect(Either.flip(yield* load(path)).pipe(Either.map((e) => e.message))).toEqual(
          Either.right("Invalid INI format: [line 3]: option 'ip' in section 'a' already exists")
        )
        // The same text is fine for the lenient string loader.
        expect(decky(ok("[a]\nip=10.0.0.1\nIP=10.0.0.2\n"), "a")?.ip).toBe("10.0.0.2")
        expect(Either.isLeft(parseIniFile("[a]\n[a]\n"))).toBe(true)
      })
    )

    it.effect("missing, a directory, empty, or too large", () =>
      Effect.gen(function* () {
        const missing = join(dir, "nope.ini")
        const message = (r: Either.Either<IniConfig, IniError>) =>
          Either.flip(r).pipe(Either.map((e) => e.message))
        expect(message(yield* load(missing))).toEqual(Either.right(`Config file not found: ${missing}`))
        expect(message(yield* load(dir))).toEqual(Either.right(`Config file not found: ${dir}`))
        const empty = join(dir, "empty.ini")
        writeFileSync(empty, "")
        expect(message(yield* load(empty))).toEqual(Either.right("INI content is empty"))
        const big = join(dir, "big.ini")
        writeFileSync(big, `[a]\n#${"x".repeat(4 * MAX_INI_CHARS)}\n`)
        expect(message(yield* load(big))).toEqual(Either.right("INI content is too large (max 512KB)"))
      })
    )
  })

  describe("hostile input", () => {
    const outcome = (text: string) => {
      const result = loadIniFromString(text)
      return Either.isLeft(result)
        ? result.left instanceof IniError && typeof result.left.message === "string"
        : Schema.is(IniConfigSchema)(result.right)
    }

    it("any text yields a valid IniConfig or an IniError, never a throw", () => {
      fc.assert(
        fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => outcome(text)),
        { numRuns: 3000 }
      )
    })

    it("INI-shaped text (headers, keys, continuations, junk) too", () => {
      const name = fc.oneof(
        fc.constantFrom("general", "DEFAULT", "web", "web.http", "web.ssh", "custom-x", "d.b.redis", "a b"),
        fc.string({ maxLength: 12 })
      )
      const key = fc.constantFrom(
        "ip",
        "services",
        "archetype",
        "amount",
        "nmap_os",
        "nmap-os",
        "mutate_interval",
        "mutate-interval",
        "net",
        "gw",
        "binary",
        "exec",
        "ports",
        "Password"
      )
      const value = fc.oneof(
        fc.constantFrom("1", "3", "100", "101", "0", "-2", "ssh, http", "10.0.0.5", "x", "", "linux-server"),
        fc.string({ maxLength: 16 })
      )
      const line = fc.oneof(
        name.map((n) => `[${n}]`),
        fc.tuple(key, fc.constantFrom("=", ":", " = "), value).map(([k, d, v]) => `${k}${d}${v}`),
        value.map((v) => `   ${v}`),
        fc.constantFrom("# c", "; c", "", "junk", "[", "]", "=x", "\r"),
        fc.string({ maxLength: 20 })
      )
      const doc = fc.tuple(fc.array(line, { maxLength: 30 }), fc.constantFrom("\n", "\r\n", "\r"))
      fc.assert(
        fc.property(doc, ([lines, eol]) => outcome(lines.join(eol)) && outcome(`[d]\n${lines.join(eol)}`)),
        { numRuns: 3000 }
      )
    })

    it("a long line without a delimiter is one linear scan (a backtracking regex would take minutes)", () => {
      const text = `[a]\nk${" ".repeat(MAX_INI_CHARS - 10)}v\n`
      expect(Either.isLeft(loadIniFromString(text))).toBe(true)
    })
  })
})
