// Catalog data against spec/fleet.md §3/§4, written out here independently of src/catalog.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Random, Schema } from "effect"
import {
  ALL_SERVICE_SLUGS,
  ARCHETYPES,
  Archetype,
  CatalogNotFound,
  DISTROS,
  Distro,
  FLEET_SINGLETONS,
  findArchetype,
  findDistro,
  findService,
  getArchetype,
  getDistro,
  getService,
  hostnameStyle,
  isOsFamily,
  OS_PROFILES,
  OsProfile,
  osProfile,
  osSysctls,
  randomHostname,
  randomHostnameFor,
  SERVICE_NAMES,
  SERVICES,
  ServiceSpec
} from "../../src/catalog/index.js"
import { isHoneypotSlug } from "../../src/honeypots/Registry.js"

// slug → [tcp ports, udp ports, config_schema keys], in the spec's table order.
const SPEC_SERVICES: ReadonlyArray<readonly [string, ReadonlyArray<number>, ReadonlyArray<number>, string]> =
  [
    ["ssh", [22], [], "password user user_password hostname"],
    ["telnet", [23], [], "password user user_password hostname"],
    ["http", [80, 443], [], "server_header response_code fake_app extra_headers custom_body http_versions"],
    [
      "https",
      [443],
      [],
      "server_header response_code fake_app extra_headers custom_body tls_cn tls_cert tls_key http_versions"
    ],
    ["ftp", [21], [], ""],
    ["tftp", [], [69], ""],
    ["smb", [445, 139], [], ""],
    ["rdp", [3389], [], "nla"],
    ["vnc", [5900], [], ""],
    ["smtp", [25, 587], [], "banner mta"],
    [
      "smtp_relay",
      [25, 587],
      [],
      "banner mta upstream_host upstream_port upstream_user upstream_pass upstream_sender probe_limit"
    ],
    ["imap", [143, 993], [], ""],
    ["pop3", [110, 995], [], ""],
    ["ldap", [389, 636], [], ""],
    ["llmnr", [], [5355, 5353], ""],
    ["mysql", [3306], [], "version"],
    ["postgres", [5432], [], ""],
    ["mssql", [1433], [], ""],
    ["mongodb", [27017], [], ""],
    ["redis", [6379], [], "version os_string"],
    ["elasticsearch", [9200], [], ""],
    ["mqtt", [1883], [], ""],
    ["snmp", [], [161], ""],
    ["sip", [5060], [5060], ""],
    ["k8s", [6443, 8080], [], ""],
    ["docker_api", [2375, 2376], [], ""],
    [
      "dns",
      [53],
      [53],
      "zone_mode domain bind_version nsid extra_records real_recursive upstream forward_budget forward_window state_path"
    ],
    ["conpot", [502, 161, 80], [], ""],
    ["sniffer", [], [], ""]
  ]

// slug, display name, services, preferred distros, nmap_os (spec §4).
const SPEC_ARCHETYPES = [
  ["windows-workstation", "Windows Workstation", "smb rdp", "debian ubuntu22", "windows"],
  ["windows-server", "Windows Server", "smb rdp ldap", "debian ubuntu22", "windows_server"],
  ["domain-controller", "Domain Controller", "ldap smb rdp llmnr", "debian ubuntu22", "windows_server"],
  ["linux-server", "Linux Server", "ssh http", "debian ubuntu22 rocky9 fedora", "linux"],
  ["web-server", "Web Server", "http ftp", "debian ubuntu22 ubuntu20", "linux"],
  ["database-server", "Database Server", "mysql postgres redis", "debian ubuntu22", "linux"],
  ["mail-server", "Mail Server", "smtp pop3 imap", "debian ubuntu22", "linux"],
  ["file-server", "File Server", "smb ftp ssh", "debian ubuntu22 rocky9", "linux"],
  ["printer", "Network Printer", "snmp ftp", "alpine debian", "embedded"],
  ["iot-device", "IoT Device", "mqtt snmp telnet", "alpine", "embedded"],
  ["industrial-control", "Industrial Control System", "conpot snmp", "debian", "embedded"],
  ["voip-server", "VoIP Server", "sip", "debian ubuntu22", "linux"],
  ["monitoring-node", "Monitoring Node", "snmp ssh", "debian rocky9", "linux"],
  ["devops-host", "DevOps Host", "docker_api ssh k8s", "ubuntu22 debian", "linux"],
  ["deaddeck", "Deaddeck (Entry Point)", "ssh", "debian ubuntu22", "linux"]
] as const

// slug, image (without digest), display, hostname style, build base (without digest).
const SPEC_DISTROS = [
  ["debian", "debian:bookworm-slim", "Debian 12 (Bookworm)", "generic", "debian:bookworm-slim"],
  ["ubuntu22", "ubuntu:22.04", "Ubuntu 22.04 LTS (Jammy)", "generic", "ubuntu:22.04"],
  ["ubuntu20", "ubuntu:20.04", "Ubuntu 20.04 LTS (Focal)", "generic", "ubuntu:20.04"],
  ["rocky9", "rockylinux:9-minimal", "Rocky Linux 9", "rhel", "debian:bookworm-slim"],
  ["centos7", "centos:7", "CentOS 7", "rhel", "debian:bookworm-slim"],
  ["alpine", "alpine:3.19", "Alpine Linux 3.19", "minimal", "debian:bookworm-slim"],
  ["fedora", "fedora:39", "Fedora 39", "rhel", "debian:bookworm-slim"],
  ["kali", "kalilinux/kali-rolling", "Kali Linux (Rolling)", "rolling", "kalilinux/kali-rolling"],
  ["arch", "archlinux:latest", "Arch Linux", "rolling", "debian:bookworm-slim"]
] as const

// family: ttl syn_retries timestamps wscale sack ecn no_pmtu fin_timeout icmp_ratelimit icmp_ratemask
const SPEC_OS = [
  ["linux", "64 6 1 1 1 2 0 60 1000 6168"],
  ["windows", "128 2 1 1 1 0 0 30 0 0"],
  ["windows_server", "128 2 1 1 1 1 0 30 0 0"],
  ["bsd", "64 6 1 1 1 0 0 60 250 6168"],
  ["embedded", "255 3 0 0 0 0 1 15 0 0"],
  ["cisco", "255 2 0 0 0 0 1 15 0 0"]
] as const

const SYSCTL_KEYS = [
  "net.ipv4.ip_default_ttl",
  "net.ipv4.tcp_syn_retries",
  "net.ipv4.tcp_timestamps",
  "net.ipv4.tcp_window_scaling",
  "net.ipv4.tcp_sack",
  "net.ipv4.tcp_ecn",
  "net.ipv4.ip_no_pmtu_disc",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.icmp_ratelimit",
  "net.ipv4.icmp_ratemask"
]

const digestless = (image: string) => image.replace(/@sha256:[0-9a-f]{64}$/, "")

describe("services", () => {
  it("are the spec's 29 plugins, in its order, with its ports; every config key the spec offers is kept", () => {
    expect(SERVICES).toHaveLength(29)
    expect(SERVICES.map((s) => [s.slug, s.ports.tcp, s.ports.udp])).toEqual(
      SPEC_SERVICES.map(([slug, tcp, udp]) => [slug, tcp, udp])
    )
    for (const [slug, , , keys] of SPEC_SERVICES) {
      const offered = Option.getOrThrow(findService(slug)).config_schema.map((f) => f.key)
      const spec = keys === "" ? [] : keys.split(" ")
      // Emulated services offer every knob their module has (test/honeypots/catalog.test.ts holds that
      // exactly); none of the spec's own keys is lost, and services not emulated yet offer just those.
      expect(
        spec.filter((k) => !offered.includes(k)),
        slug
      ).toEqual([])
      if (!isHoneypotSlug(slug)) expect(offered, slug).toEqual(spec)
    }
  })

  it("all_service_names(): the 28 non-singletons, sorted; sniffer is the one fleet singleton", () => {
    expect(SERVICE_NAMES).toHaveLength(28)
    expect(SERVICE_NAMES).toEqual([...SERVICE_NAMES].sort())
    expect(SERVICE_NAMES).not.toContain("sniffer")
    expect(SERVICE_NAMES.slice(0, 4)).toEqual(["conpot", "dns", "docker_api", "elasticsearch"])
    expect(SERVICE_NAMES.at(-1)).toBe("vnc")
    expect(FLEET_SINGLETONS).toEqual(["sniffer"])
    expect(ALL_SERVICE_SLUGS).toHaveLength(29)
  })

  it("slugs are unique and no service repeats a port within a transport", () => {
    expect(new Set(SERVICES.map((s) => s.slug)).size).toBe(SERVICES.length)
    for (const s of SERVICES) {
      expect(new Set(s.ports.tcp).size, s.slug).toBe(s.ports.tcp.length)
      expect(new Set(s.ports.udp).size, s.slug).toBe(s.ports.udp.length)
    }
  })

  it("every service but the singleton claims a port and logs some event", () => {
    for (const s of SERVICES) {
      expect(s.events.length, s.slug).toBeGreaterThan(0)
      if (!s.fleet_singleton) expect(s.ports.tcp.length + s.ports.udp.length, s.slug).toBeGreaterThan(0)
    }
  })

  it("config defaults fit their field types; secrets are the password-like fields", () => {
    for (const s of SERVICES) {
      expect(new Set(s.config_schema.map((f) => f.key)).size, s.slug).toBe(s.config_schema.length)
      for (const f of s.config_schema) {
        const where = `${s.slug}.${f.key}`
        if (f.default === null) continue
        switch (f.type) {
          case "int":
            expect(Number.isInteger(f.default), where).toBe(true)
            break
          case "bool":
            expect(typeof f.default, where).toBe("boolean")
            break
          case "enum":
            expect(f.enum, where).toContain(f.default)
            break
          case "multi_enum":
            expect(Array.isArray(f.default), where).toBe(true)
            for (const v of Array.isArray(f.default) ? f.default : []) expect(f.enum, where).toContain(v)
            break
          default:
            expect(typeof f.default, where).toBe("string")
        }
      }
    }
    const secrets = SERVICES.flatMap((s) =>
      s.config_schema.filter((f) => f.secret).map((f) => `${s.slug}.${f.key}`)
    )
    // Passwords, and the TLS pair wherever a service takes one (as the spec's https does).
    const secretLike = SERVICES.flatMap((s) =>
      s.config_schema
        .filter((f) => /password|_pass$|^tls_(cert|key)$/.test(f.key))
        .map((f) => `${s.slug}.${f.key}`)
    )
    expect(secrets).toEqual(secretLike)
    expect(secrets).toEqual(
      expect.arrayContaining([
        "ssh.password",
        "ssh.user_password",
        "telnet.password",
        "telnet.user_password",
        "https.tls_cert",
        "https.tls_key",
        "smtp_relay.upstream_pass",
        "redis.password"
      ])
    )
  })

  it("carries the spec's defaults", () => {
    const def = (slug: string, key: string) =>
      Option.getOrThrow(findService(slug)).config_schema.find((f) => f.key === key)?.default
    expect(def("ssh", "password")).toBe("admin")
    expect(def("ssh", "user")).toBe("ubuntu")
    // Not the spec's 200: the default persona answers as Apache does (403/404), and a form that submits
    // defaults would otherwise pin every reply to 200 (docs/honeypots/http.md).
    expect(def("http", "response_code")).toBeNull()
    expect(def("http", "http_versions")).toEqual(["http/1.1"])
    expect(def("rdp", "nla")).toBe(false)
    expect(def("smtp_relay", "upstream_port")).toBe(25)
    expect(def("smtp_relay", "probe_limit")).toBe(1)
    expect(def("dns", "upstream")).toBe("8.8.8.8:53")
    expect(def("dns", "forward_budget")).toBe("50")
    expect(def("dns", "forward_window")).toBe("1.0")
  })
})

describe("archetypes", () => {
  it("are the spec's 15, in its order", () => {
    expect(ARCHETYPES).toHaveLength(15)
    expect(
      ARCHETYPES.map((a) => [
        a.slug,
        a.display_name,
        a.services.join(" "),
        a.preferred_distros.join(" "),
        a.nmap_os
      ])
    ).toEqual(SPEC_ARCHETYPES)
  })

  it("reference only deployable services, known distros and known OS families", () => {
    for (const a of ARCHETYPES) {
      for (const s of a.services) expect(SERVICE_NAMES, a.slug).toContain(s)
      for (const d of a.preferred_distros) expect(Option.isSome(findDistro(d)), `${a.slug}: ${d}`).toBe(true)
      expect(isOsFamily(a.nmap_os), a.slug).toBe(true)
      expect(a.description.length, a.slug).toBeGreaterThan(0)
    }
  })

  it("never put two services on the same port and transport of one decky", () => {
    for (const a of ARCHETYPES) {
      const claimed = a.services.flatMap((slug) => {
        const s = Option.getOrThrow(findService(slug))
        return [...s.ports.tcp.map((p) => `tcp/${p}`), ...s.ports.udp.map((p) => `udp/${p}`)]
      })
      expect(new Set(claimed).size, a.slug).toBe(claimed.length)
    }
  })
})

describe("distros", () => {
  it("are the spec's 9, in its order, every image pinned by a sha256 digest", () => {
    expect(DISTROS).toHaveLength(9)
    expect(
      DISTROS.map((d) => [
        d.slug,
        digestless(d.image),
        d.display_name,
        d.hostname_style,
        digestless(d.build_base)
      ])
    ).toEqual(SPEC_DISTROS)
    for (const d of DISTROS) {
      expect(d.image, d.slug).toMatch(/@sha256:[0-9a-f]{64}$/)
      expect(d.build_base, d.slug).toMatch(/@sha256:[0-9a-f]{64}$/)
    }
    // The debian fallback build base is one and the same pinned image everywhere.
    expect(
      new Set(DISTROS.filter((d) => d.build_base.startsWith("debian:")).map((d) => d.build_base)).size
    ).toBe(1)
  })

  it.effect("random hostnames follow each distro's style", () =>
    Effect.gen(function* () {
      for (let seed = 0; seed < 50; seed++) {
        const withSeed = <A>(e: Effect.Effect<A>) => Effect.withRandom(e, Random.make(seed))
        expect(yield* withSeed(randomHostnameFor("rocky9"))).toMatch(/^[a-z]+[1-9][0-9]\.localdomain$/)
        expect(yield* withSeed(randomHostnameFor("alpine"))).toMatch(/^[a-z]+-[1-9][0-9]$/)
        expect(yield* withSeed(randomHostnameFor("kali"))).toMatch(/^[a-z]+-[a-z]+$/)
        expect(yield* withSeed(randomHostnameFor("debian"))).toMatch(/^SRV-[A-Z]+-[1-9][0-9]$/)
        // An unknown distro is styled generic, as in the original.
        expect(yield* withSeed(randomHostnameFor("plan9"))).toMatch(/^SRV-[A-Z]+-[1-9][0-9]$/)
      }
      expect(hostnameStyle("plan9")).toBe("generic")
      // Same seed, same name: a fleet planned with a seeded Random is reproducible.
      const a = yield* Effect.withRandom(randomHostname("rhel"), Random.make("fleet"))
      const b = yield* Effect.withRandom(randomHostname("rhel"), Random.make("fleet"))
      expect(a).toBe(b)
    })
  )
})

describe("OS profiles", () => {
  it("are the spec's 6 sysctl tables, values as strings", () => {
    expect(OS_PROFILES).toHaveLength(6)
    expect(
      OS_PROFILES.map((p) => [p.family, SYSCTL_KEYS.map((k) => Reflect.get(p.sysctls, k)).join(" ")])
    ).toEqual(SPEC_OS)
    for (const p of OS_PROFILES) expect(Object.keys(p.sysctls)).toEqual(SYSCTL_KEYS)
  })

  it("an unknown slug falls back to linux", () => {
    expect(osProfile("plan9").family).toBe("linux")
    expect(osSysctls("")["net.ipv4.ip_default_ttl"]).toBe("64")
    expect(osSysctls("windows")["net.ipv4.ip_default_ttl"]).toBe("128")
    expect(osSysctls("cisco")["net.ipv4.ip_default_ttl"]).toBe("255")
  })

  it("only the Windows families have a cloak mangle profile", () => {
    expect(OS_PROFILES.filter((p) => p.mangle !== null).map((p) => p.family)).toEqual([
      "windows",
      "windows_server"
    ])
    expect(osProfile("windows").mangle).toEqual({
      window: 0x2000,
      mss: 1460,
      wscale: 8,
      option_order: ["MSS", "NOP", "WScale", "SAckOK", "TS"],
      ipid: "incr",
      respond_t2t3: true
    })
    expect(osProfile("windows_server").mangle?.ipid).toBe("random")
  })
})

describe("lookups", () => {
  it("find* return Option", () => {
    expect(Option.map(findService("smtp_relay"), (s) => s.ports.tcp)).toEqual(Option.some([25, 587]))
    expect(Option.isNone(findService("real_ssh"))).toBe(true)
    expect(Option.map(findArchetype("deaddeck"), (a) => a.services)).toEqual(Option.some(["ssh"]))
    expect(Option.isNone(findDistro("Debian"))).toBe(true)
  })

  it.effect("get* fail with CatalogNotFound naming every valid slug, sorted", () =>
    Effect.gen(function* () {
      const arch = yield* Effect.flip(getArchetype("mainframe"))
      expect(arch).toBeInstanceOf(CatalogNotFound)
      expect(arch._tag).toBe("CatalogNotFound")
      expect(arch.kind).toBe("archetype")
      expect(arch.message).toBe(
        "Unknown archetype 'mainframe'. Available: database-server, deaddeck, devops-host, domain-controller, " +
          "file-server, industrial-control, iot-device, linux-server, mail-server, monitoring-node, printer, " +
          "voip-server, web-server, windows-server, windows-workstation"
      )
      const distro = yield* Effect.flip(getDistro("gentoo"))
      expect(distro.message).toBe(
        "Unknown distro 'gentoo'. Available: alpine, arch, centos7, debian, fedora, kali, rocky9, ubuntu20, ubuntu22"
      )
      const svc = yield* Effect.flip(getService("telnetd"))
      expect(svc.available).toHaveLength(29)
      expect(svc.message).toMatch(
        /^Unknown service 'telnetd'\. Available: conpot, dns, .*, sniffer, snmp, .*vnc$/
      )
      expect((yield* getService("sniffer")).fleet_singleton).toBe(true)
    })
  )
})

describe("schemas", () => {
  const roundTrip = <A, I>(schema: Schema.Schema<A, I>, items: ReadonlyArray<A>) => {
    const json: unknown = JSON.parse(JSON.stringify(Schema.encodeSync(Schema.Array(schema))(items)))
    expect(Schema.decodeUnknownSync(Schema.Array(schema))(json)).toEqual(items)
  }

  it("every catalog entry survives encode → JSON → decode", () => {
    roundTrip(ServiceSpec, SERVICES)
    roundTrip(Archetype, ARCHETYPES)
    roundTrip(Distro, DISTROS)
    roundTrip(OsProfile, OS_PROFILES)
  })

  it("config fields carry null for an absent default/help/placeholder and enum only when set", () => {
    const [nla] = Option.getOrThrow(findService("rdp")).config_schema
    expect(Schema.encodeSync(ServiceSpec.fields.config_schema)([nla!])).toEqual([
      {
        key: "nla",
        label: "Enable CredSSP / NLA",
        type: "bool",
        default: false,
        secret: false,
        help: expect.stringContaining("Off by default"),
        placeholder: null
      }
    ])
    // Decoding fills the same defaults when a producer leaves them out.
    const decoded = Schema.decodeUnknownSync(ServiceSpec.fields.config_schema)([
      { key: "k", label: "K", type: "string" }
    ])
    expect(decoded).toEqual([
      { key: "k", label: "K", type: "string", default: null, secret: false, help: null, placeholder: null }
    ])
  })

  it("decoding rejects what the catalog would never hold", () => {
    const arch = Schema.encodeSync(Archetype)(ARCHETYPES[0]!)
    const decode = Schema.decodeUnknownEither(Archetype)
    expect(Either.isRight(decode(arch))).toBe(true)
    expect(Either.isLeft(decode({ ...arch, services: ["real_ssh"] }))).toBe(true)
    expect(Either.isLeft(decode({ ...arch, services: [] }))).toBe(true)
    expect(Either.isLeft(decode({ ...arch, nmap_os: "solaris" }))).toBe(true)
    const distro = Schema.encodeSync(Distro)(DISTROS[0]!)
    expect(
      Either.isLeft(Schema.decodeUnknownEither(Distro)({ ...distro, image: "debian:bookworm-slim" }))
    ).toBe(true)
    const svc = Schema.encodeSync(ServiceSpec)(SERVICES[0]!)
    expect(
      Either.isLeft(Schema.decodeUnknownEither(ServiceSpec)({ ...svc, ports: { tcp: [0], udp: [] } }))
    ).toBe(true)
  })
})
