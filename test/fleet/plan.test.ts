// Fleet planning (spec/fleet.md §5 "Building", §6 allocate_ips / build_deckies): addresses, names, distros,
// hostnames, services, intervals; every error text; and the same plan for the same seed.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Random, TestClock } from "effect"
import { ARCHETYPES, DISTRO_SLUGS, DISTROS, SERVICE_NAMES } from "../../src/catalog/index.js"
import { isHoneypotSlug } from "../../src/honeypots/Registry.js"
import { type IniConfig, loadIniFromString } from "../../src/fleet/Ini.js"
import { Decky } from "../../src/fleet/Model.js"
import {
  allocateIps,
  makeDeployment,
  type PlanError,
  planFromIni,
  planFromOptions,
  parseSubnet,
  pyList
} from "../../src/fleet/Plan.js"

const seeded =
  (seed: number) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.withRandom(effect, Random.make(seed))

const failure = <A>(effect: Effect.Effect<A, PlanError>) =>
  Effect.map(Effect.flip(effect), (e) => ({ reason: e.reason, message: e.message }))

const ini = (text: string): IniConfig => Either.getOrThrow(loadIniFromString(text))

const LAN = { subnet: "192.168.1.0/24", gateway: "192.168.1.1", hostIp: "192.168.1.2" }

const AVAILABLE =
  "['conpot', 'dns', 'docker_api', 'elasticsearch', 'ftp', 'http', 'https', 'imap', 'k8s', 'ldap', " +
  "'llmnr', 'mongodb', 'mqtt', 'mssql', 'mysql', 'pop3', 'postgres', 'rdp', 'redis', 'sip', 'smb', 'smtp', " +
  "'smtp_relay', 'snmp', 'ssh', 'telnet', 'tftp', 'vnc']"

const imageOf = (slug: string) => DISTROS.find((d) => d.slug === slug)

describe("allocateIps", () => {
  it.effect("skips network, gateway and this host, from the first host or ip_start", () =>
    Effect.gen(function* () {
      expect(yield* allocateIps("192.168.1.0/24", "192.168.1.1", "192.168.1.3", 3)).toEqual([
        "192.168.1.2",
        "192.168.1.4",
        "192.168.1.5"
      ])
      expect(yield* allocateIps("192.168.1.0/24", "192.168.1.1", "192.168.1.2", 2, "192.168.1.200")).toEqual([
        "192.168.1.200",
        "192.168.1.201"
      ])
      // The broadcast address is never handed out.
      expect(yield* allocateIps("192.168.1.0/24", "192.168.1.1", "192.168.1.2", 2, "192.168.1.253")).toEqual([
        "192.168.1.253",
        "192.168.1.254"
      ])
      // Host bits in the subnet are ignored (Python's strict=False); a netmask works as well as a prefix.
      expect(yield* allocateIps("10.1.2.77/24", "10.1.2.1", null, 1)).toEqual(["10.1.2.2"])
      expect(yield* allocateIps("10.1.2.0/255.255.255.0", "10.1.2.1", null, 1)).toEqual(["10.1.2.2"])
      expect(yield* allocateIps("10.1.2.0/24", "10.1.2.1", null, 0)).toEqual([])
      // A /8 is walked lazily: asking for a few costs a few.
      expect(yield* allocateIps("10.0.0.0/8", "10.0.0.1", "10.0.0.2", 2)).toEqual(["10.0.0.3", "10.0.0.4"])
    })
  )

  it.effect("a /30 has two hosts; the gateway and this host can take both", () =>
    Effect.gen(function* () {
      expect(yield* allocateIps("10.0.0.0/30", "10.0.0.1", null, 1)).toEqual(["10.0.0.2"])
      expect(yield* failure(allocateIps("10.0.0.0/30", "10.0.0.1", null, 2))).toEqual({
        reason: "ip_exhausted",
        message: "Not enough free IPs in 10.0.0.0/30 for 2 deckies (found 1)."
      })
      expect(yield* failure(allocateIps("10.0.0.0/30", "10.0.0.1", "10.0.0.2", 1))).toEqual({
        reason: "ip_exhausted",
        message: "Not enough free IPs in 10.0.0.0/30 for 1 deckies (found 0)."
      })
      for (const tiny of ["10.0.0.0/31", "10.0.0.7/32"])
        expect((yield* failure(allocateIps(tiny, "10.0.0.1", null, 1))).message).toBe(
          `Not enough free IPs in ${tiny} for 1 deckies (found 0).`
        )
    })
  )

  it.effect("exhaustion on a /24 with ip_start, and bad input", () =>
    Effect.gen(function* () {
      expect(
        yield* failure(allocateIps("192.168.1.0/24", "192.168.1.1", "192.168.1.2", 10, "192.168.1.250"))
      ).toEqual({
        reason: "ip_exhausted",
        message: "Not enough free IPs in 192.168.1.0/24 for 10 deckies (found 5)."
      })
      expect((yield* allocateIps("192.168.1.0/24", "192.168.1.1", "192.168.1.2", 252)).length).toBe(252)
      expect((yield* failure(allocateIps("192.168.1.0/24", "192.168.1.1", "192.168.1.2", 253))).message).toBe(
        "Not enough free IPs in 192.168.1.0/24 for 253 deckies (found 252)."
      )
      // ip_start past the subnet finds nothing.
      expect(
        (yield* failure(allocateIps("192.168.1.0/24", "192.168.1.1", null, 1, "192.168.2.5"))).message
      ).toBe("Not enough free IPs in 192.168.1.0/24 for 1 deckies (found 0).")
      for (const [subnet, gw, host, start] of [
        ["192.168.1.0/33", "192.168.1.1", null, null],
        ["192.168.1.0/255.0.255.0", "192.168.1.1", null, null],
        ["lan", "192.168.1.1", null, null],
        ["192.168.1.0/24", "192.168.1.256", null, null],
        ["192.168.1.0/24", "192.168.1.1", "host", null],
        ["192.168.1.0/24", "192.168.1.1", null, "192.168.01.5"]
      ] as const)
        expect((yield* failure(allocateIps(subnet, gw, host, 1, start))).reason).toBe("invalid_network")
      expect((yield* failure(allocateIps("192.168.1.0/24", "192.168.1.1", null, -1))).reason).toBe(
        "invalid_option"
      )
    })
  )

  it("parses subnets like Python's IPv4Network(strict=False)", () => {
    expect(Option.getOrThrow(parseSubnet("0.0.0.0/0"))).toEqual({
      network: 0,
      broadcast: 0xffffffff,
      prefix: 0
    })
    expect(Option.getOrThrow(parseSubnet("172.16.5.4/12"))).toEqual({
      network: 0xac100000,
      broadcast: 0xac1fffff,
      prefix: 12
    })
    expect(Option.getOrThrow(parseSubnet("10.0.0.1"))).toEqual({
      network: 0x0a000001,
      broadcast: 0x0a000001,
      prefix: 32
    })
    expect(Option.isNone(parseSubnet("10.0.0.0/8/8"))).toBe(true)
  })
})

describe("planFromOptions (decnet deploy without an INI)", () => {
  const ips = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 10}`)

  it.effect("explicit services: names decky-01…, every distro in table order, linux, the CLI interval", () =>
    Effect.gen(function* () {
      const deckies = yield* planFromOptions({
        ips: ips(11),
        services: ["ssh", " redis ", "ssh", ""],
        mutateInterval: 30
      })
      expect(deckies.map((d) => d.name)).toEqual([
        "decky-01",
        "decky-02",
        "decky-03",
        "decky-04",
        "decky-05",
        "decky-06",
        "decky-07",
        "decky-08",
        "decky-09",
        "decky-10",
        "decky-11"
      ])
      expect(deckies.map((d) => d.ip)).toEqual(ips(11))
      expect(deckies.map((d) => d.distro)).toEqual([...DISTRO_SLUGS, "debian", "ubuntu22"])
      for (const d of deckies) {
        expect(d).toBeInstanceOf(Decky)
        expect(d.services).toEqual(["ssh", "redis"])
        expect(d).toMatchObject({
          archetype: null,
          nmap_os: "linux",
          mutate_interval: 30,
          last_mutated: 0,
          last_login_attempt: 0,
          host_uuid: null,
          service_config: {}
        })
        expect(d.base_image).toBe(imageOf(d.distro)?.image)
        expect(d.build_base).toBe(imageOf(d.distro)?.build_base)
      }
      // Hostnames in each distro's style.
      const byDistro = new Map(deckies.map((d) => [d.distro, d.hostname]))
      expect(byDistro.get("debian")).toMatch(/^SRV-[A-Z]+-\d\d$/)
      expect(byDistro.get("rocky9")).toMatch(/^[a-z]+\d\d\.localdomain$/)
      expect(byDistro.get("alpine")).toMatch(/^[a-z]+-\d\d$/)
      expect(byDistro.get("kali")).toMatch(/^[a-z]+-[a-z]+$/)
      expect((yield* planFromOptions({ ips: ips(1), services: ["ssh"] }))[0].mutate_interval).toBeNull()
    }).pipe(seeded(1))
  )

  it.effect("an archetype: its services, preferred distros cycled, its nmap_os", () =>
    Effect.gen(function* () {
      const deckies = yield* planFromOptions({ ips: ips(5), archetype: "linux-server" })
      expect(deckies.map((d) => d.distro)).toEqual(["debian", "ubuntu22", "rocky9", "fedora", "debian"])
      for (const d of deckies)
        expect(d).toMatchObject({ services: ["ssh", "http"], archetype: "linux-server", nmap_os: "linux" })
      // --services beats the archetype's services; the archetype still gives distros and nmap_os.
      const win = yield* planFromOptions({ ips: ips(2), archetype: "windows-server", services: ["ftp"] })
      expect(win.map((d) => [d.services, d.distro, d.nmap_os])).toEqual([
        [["ftp"], "debian", "windows_server"],
        [["ftp"], "ubuntu22", "windows_server"]
      ])
      // Explicit distros are cycled, whatever the archetype prefers.
      const cycled = yield* planFromOptions({
        ips: ips(3),
        archetype: "iot-device",
        distros: ["kali", "arch"]
      })
      expect(cycled.map((d) => d.distro)).toEqual(["kali", "arch", "kali"])
      const random = yield* planFromOptions({ ips: ips(20), services: ["ssh"], randomizeDistros: true })
      for (const d of random) expect(DISTRO_SLUGS).toContain(d.distro)
      expect(new Set(random.map((d) => d.distro)).size).toBeGreaterThan(1)
    }).pipe(seeded(2))
  )

  it.effect("random services: 1-3 non-singleton services, combinations not repeated", () =>
    Effect.gen(function* () {
      const deckies = yield* planFromOptions({ ips: ips(40), randomizeServices: true })
      const combos = deckies.map((d) => d.services.join(","))
      expect(new Set(combos).size).toBe(40)
      for (const d of deckies) {
        expect(d.services.length).toBeGreaterThanOrEqual(1)
        expect(d.services.length).toBeLessThanOrEqual(3)
        expect(new Set(d.services).size).toBe(d.services.length)
        for (const s of d.services) expect(SERVICE_NAMES).toContain(s)
        expect(d.services).not.toContain("sniffer")
      }
      expect(new Set(deckies.map((d) => d.services.length))).toEqual(new Set([1, 2, 3]))
    }).pipe(seeded(3))
  )

  it.effect("the same seed plans the same fleet; another seed another", () =>
    Effect.gen(function* () {
      const plan = planFromOptions({ ips: ips(8), randomizeServices: true, randomizeDistros: true })
      const a = yield* seeded(42)(plan)
      const b = yield* seeded(42)(plan)
      const c = yield* seeded(43)(plan)
      expect(b).toEqual(a)
      expect(c).not.toEqual(a)
    })
  )

  it.effect("errors", () =>
    Effect.gen(function* () {
      expect(yield* failure(planFromOptions({ ips: ips(1) }))).toEqual({
        reason: "no_services",
        message: "Specify --services, --archetype, or --randomize-services."
      })
      expect(yield* failure(planFromOptions({ ips: ips(1), services: [" ", ""] }))).toEqual({
        reason: "no_services",
        message: "Specify --services, --archetype, or --randomize-services."
      })
      expect(yield* failure(planFromOptions({ ips: ips(1), services: ["ssh", "nope", "sniffer"] }))).toEqual({
        reason: "unknown_service",
        message: `Unknown service(s): ['nope', 'sniffer']. Available: ${AVAILABLE}`
      })
      expect(yield* failure(planFromOptions({ ips: ips(1), archetype: "mainframe" }))).toEqual({
        reason: "unknown_archetype",
        message: `Unknown archetype 'mainframe'. Available: ${ARCHETYPES.map((a) => a.slug)
          .sort()
          .join(", ")}`
      })
      expect(
        yield* failure(planFromOptions({ ips: ips(1), services: ["ssh"], distros: ["debian", "gentoo"] }))
      ).toEqual({
        reason: "unknown_distro",
        message: `Unknown distro 'gentoo'. Available: ${[...DISTRO_SLUGS].sort().join(", ")}`
      })
      expect((yield* failure(planFromOptions({ ips: [], services: ["ssh"] }))).reason).toBe("no_deckies")
      expect(
        (yield* failure(planFromOptions({ ips: ["10.0.0.1", "10.0.0.1"], services: ["ssh"] }))).reason
      ).toBe("ip_conflict")
      expect((yield* failure(planFromOptions({ ips: ["10.0.0.256"], services: ["ssh"] }))).reason).toBe(
        "invalid_network"
      )
      expect(
        (yield* failure(planFromOptions({ ips: ips(1), services: ["ssh"], mutateInterval: 0 }))).reason
      ).toBe("invalid_option")
    }).pipe(seeded(4))
  )

  describe("restricted to what the runtime can run", () => {
    const runnable = isHoneypotSlug

    it.effect("random and archetype services come from the runnable ones only", () =>
      Effect.gen(function* () {
        const random = yield* planFromOptions({ ips: ips(30), randomizeServices: true, runnable })
        for (const d of random) for (const s of d.services) expect(isHoneypotSlug(s)).toBe(true)
        // iot-device is mqtt, snmp, telnet: only telnet is emulated.
        const iot = yield* planFromOptions({ ips: ips(2), archetype: "iot-device", runnable })
        expect(iot.map((d) => d.services)).toEqual([["telnet"], ["telnet"]])
        const dc = yield* planFromOptions({ ips: ips(1), archetype: "domain-controller", runnable })
        expect(dc[0].services).toEqual(["ldap", "smb", "rdp"])
      }).pipe(seeded(5))
    )

    it.effect(
      "explicit services it cannot run, and archetypes with none it can, are errors naming both",
      () =>
        Effect.gen(function* () {
          const runs = pyList(SERVICE_NAMES.filter(isHoneypotSlug))
          expect(
            yield* failure(planFromOptions({ ips: ips(1), services: ["ssh", "sip", "dns"], runnable }))
          ).toEqual({
            reason: "unavailable_service",
            message: `Service(s) not available on this runtime: ['sip', 'dns']. It can run: ${runs}`
          })
          expect(
            yield* failure(planFromOptions({ ips: ips(1), archetype: "voip-server", runnable }))
          ).toEqual({
            reason: "unavailable_service",
            message: `Archetype 'voip-server' has no service this runtime can run (it has ['sip']). It can run: ${runs}`
          })
          // Unknown to the catalog is reported first, with the catalog's list.
          expect(
            (yield* failure(planFromOptions({ ips: ips(1), services: ["nope", "sip"], runnable }))).reason
          ).toBe("unknown_service")
          expect(runs).toContain("'redis'")
          expect(runs).not.toContain("'sip'")
        })
    )
  })
})

describe("planFromIni (build_deckies_from_ini)", () => {
  it.effect("explicit and auto IPs, distro by running count, services, nmap_os, intervals, now", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_700_000_000_500)
      const cfg = ini(`
[general]
net=192.168.1.0/24
gw=192.168.1.1

[fixed]
ip=192.168.1.3
services=ssh,redis
mutate_interval=5

[web]
archetype=web-server
amount=3
nmap_os=bsd

[web.http]
server_header=nginx

[plain]
mutate-interval=7
`)
      const deckies = yield* planFromIni(cfg, LAN)
      expect(deckies.map((d) => [d.name, d.ip])).toEqual([
        ["fixed", "192.168.1.3"],
        // .1 gateway, .2 this host, .3 reserved by [fixed]: auto addresses start at .4, in host order.
        ["web-01", "192.168.1.4"],
        ["web-02", "192.168.1.5"],
        ["web-03", "192.168.1.6"],
        ["plain", "192.168.1.7"]
      ])
      // The distro index is the running decky count: web-01 is the 2nd decky → preferred[1 % 3].
      expect(deckies.map((d) => d.distro)).toEqual([
        "debian",
        "ubuntu22",
        "ubuntu20",
        "debian",
        DISTRO_SLUGS[4]
      ])
      expect(deckies[0]).toMatchObject({
        services: ["ssh", "redis"],
        archetype: null,
        nmap_os: "linux",
        mutate_interval: 5
      })
      for (const d of deckies.slice(1, 4))
        expect(d).toMatchObject({
          services: ["http", "ftp"],
          archetype: "web-server",
          nmap_os: "bsd", // explicit beats the archetype's
          service_config: { http: { server_header: "nginx" } },
          mutate_interval: null
        })
      const plain = deckies[4]
      expect(plain?.mutate_interval).toBe(7)
      expect(plain?.services.length).toBeGreaterThanOrEqual(1)
      expect(plain?.services.length).toBeLessThanOrEqual(3)
      for (const s of plain?.services ?? []) expect(SERVICE_NAMES).toContain(s)
      for (const d of deckies) {
        expect(d.last_mutated).toBe(1_700_000_000.5)
        expect(d.base_image).toBe(imageOf(d.distro)?.image)
      }
      // The CLI's interval (its default 30 included) wins over every section's.
      const withCli = yield* planFromIni(cfg, LAN, { mutateInterval: 30 })
      expect(withCli.map((d) => d.mutate_interval)).toEqual([30, 30, 30, 30, 30])
      // An archetype without explicit nmap_os lends its own.
      const win = yield* planFromIni(ini("[w]\narchetype=windows-workstation\n"), LAN)
      expect(win[0]).toMatchObject({ nmap_os: "windows", services: ["smb", "rdp"] })
    }).pipe(seeded(6))
  )

  it.effect("an additive deploy skips the running fleet's addresses and refuses its names", () =>
    Effect.gen(function* () {
      const running = yield* planFromOptions({ ips: ["192.168.1.3", "192.168.1.5"], services: ["ssh"] })
      const added = yield* planFromIni(ini("[a]\n[b]\n[c]\nip=192.168.1.4\n"), LAN, { existing: running })
      expect(added.map((d) => [d.name, d.ip])).toEqual([
        ["a", "192.168.1.6"],
        ["b", "192.168.1.7"],
        ["c", "192.168.1.4"]
      ])
      expect(yield* failure(planFromIni(ini("[x]\nip=192.168.1.5\n"), LAN, { existing: running }))).toEqual({
        reason: "ip_conflict",
        message: "[x] ip=192.168.1.5 is already used by decky 'decky-02' of the running fleet"
      })
      expect(yield* failure(planFromIni(ini("[decky-01]\n"), LAN, { existing: running }))).toEqual({
        reason: "name_conflict",
        message: "Decky name 'decky-01' is already in the fleet"
      })
      const fleet = yield* makeDeployment({
        runtime: "docker",
        interface: "eth0",
        subnet: LAN.subnet,
        gateway: LAN.gateway,
        deckies: [...running, ...added]
      })
      expect(fleet.deckies.map((d) => d.name)).toEqual(["decky-01", "decky-02", "a", "b", "c"])
    }).pipe(seeded(7))
  )

  it.effect("explicit addresses are checked against the network", () =>
    Effect.gen(function* () {
      const ipError = (text: string) => Effect.map(failure(planFromIni(ini(text), LAN)), (e) => e.message)
      expect(yield* ipError("[a]\nip=10.0.0.5\n")).toBe("[a] ip=10.0.0.5 is outside 192.168.1.0/24")
      expect(yield* ipError("[a]\nip=192.168.1.1\n")).toBe("[a] ip=192.168.1.1 is the gateway")
      expect(yield* ipError("[a]\nip=192.168.1.2\n")).toBe("[a] ip=192.168.1.2 is this host's own address")
      expect(yield* ipError("[a]\nip=192.168.1.255\n")).toBe(
        "[a] ip=192.168.1.255 is the network or broadcast address of 192.168.1.0/24"
      )
      expect(yield* ipError("[a]\nip=192.168.1.9\n[b]\nip=192.168.1.9\n")).toBe(
        "[b] ip=192.168.1.9 is already used by [a]"
      )
    })
  )

  it.effect("the spec's errors: unknown services, archetypes, exhaustion", () =>
    Effect.gen(function* () {
      expect(yield* failure(planFromIni(ini("[web]\nservices=ssh,nope\n"), LAN))).toEqual({
        reason: "unknown_service",
        message: `Unknown service(s) in [web]: ['nope']. Available: ${AVAILABLE}`
      })
      // A [custom-*] service is parsed, but nothing runs it yet: the error says so.
      expect(
        (yield* failure(planFromIni(ini("[web]\nservices=ssh,myapp\n[custom-myapp]\nbinary=img:1\n"), LAN)))
          .message
      ).toBe(
        `Unknown service(s) in [web]: ['myapp']. Available: ${AVAILABLE} ` +
          "(['myapp'] is [custom-*] services, which are parsed but not run yet)"
      )
      expect((yield* failure(planFromIni(ini("[web]\narchetype=nope\n"), LAN))).message).toMatch(
        /^Unknown archetype 'nope'\. Available: database-server, deaddeck, /
      )
      const tiny = { subnet: "10.0.0.0/29", gateway: "10.0.0.1", hostIp: "10.0.0.2" }
      expect(yield* failure(planFromIni(ini("[grp]\namount=4\n[last]\n"), tiny))).toEqual({
        reason: "ip_exhausted",
        message: "Not enough free IPs in 10.0.0.0/29 while assigning IP for 'last'."
      })
      expect((yield* planFromIni(ini("[grp]\namount=4\n"), tiny)).map((d) => d.ip)).toEqual([
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.5",
        "10.0.0.6"
      ])
      expect((yield* failure(planFromIni(ini("[a]\n"), { ...LAN, subnet: "nope" }))).reason).toBe(
        "invalid_network"
      )
    }).pipe(seeded(8))
  )

  it.effect("restricted to the in-process runtime's services", () =>
    Effect.gen(function* () {
      const runnable = isHoneypotSlug
      const plan = yield* planFromIni(ini("[r]\namount=20\n[p]\narchetype=printer\n"), LAN, { runnable })
      for (const d of plan) for (const s of d.services) expect(isHoneypotSlug(s)).toBe(true)
      expect(plan.at(-1)?.services).toEqual(["ftp"])
      expect((yield* failure(planFromIni(ini("[v]\nservices=sip\n"), LAN, { runnable }))).message).toBe(
        `Service(s) in [v] not available on this runtime: ['sip']. It can run: ${pyList(SERVICE_NAMES.filter(runnable))}`
      )
      expect(
        (yield* failure(planFromIni(ini("[ics]\narchetype=industrial-control\n"), LAN, { runnable }))).message
      ).toMatch(
        /^Archetype 'industrial-control' of \[ics\] has no service this runtime can run \(it has \['conpot', 'snmp'\]\)/
      )
    }).pipe(seeded(9))
  )

  it.effect("is deterministic under a seeded Random", () =>
    Effect.gen(function* () {
      const cfg = ini("[r]\namount=10\n[a]\narchetype=linux-server\n")
      const a = yield* seeded(11)(planFromIni(cfg, LAN))
      const b = yield* seeded(11)(planFromIni(cfg, LAN))
      expect(b).toEqual(a)
      expect(yield* seeded(12)(planFromIni(cfg, LAN))).not.toEqual(a)
    })
  )
})

describe("makeDeployment", () => {
  it.effect("defaults, and unique names and addresses", () =>
    Effect.gen(function* () {
      const deckies = yield* planFromOptions({
        ips: ["127.77.0.2", "127.77.0.3"],
        archetype: "database-server"
      })
      const fleet = yield* makeDeployment({
        runtime: "inprocess",
        interface: "lo",
        subnet: "127.77.0.0/24",
        gateway: "127.77.0.1",
        deckies
      })
      expect(fleet).toMatchObject({
        mode: "unihost",
        runtime: "inprocess",
        log_file: null,
        ipvlan: false,
        mutate_interval: 30
      })
      const none = yield* makeDeployment({
        ...fleet,
        deckies,
        mutate_interval: null,
        mode: "swarm",
        ipvlan: true
      })
      expect(none).toMatchObject({ mode: "swarm", mutate_interval: null, ipvlan: true })
      const [first] = deckies
      expect(yield* failure(makeDeployment({ ...fleet, deckies: [first, first] }))).toEqual({
        reason: "name_conflict",
        message: "Duplicate decky name 'decky-01'"
      })
      const twin = new Decky({ ...first, name: "twin" })
      expect(yield* failure(makeDeployment({ ...fleet, deckies: [first, twin] }))).toEqual({
        reason: "ip_conflict",
        message: "Deckies 'decky-01' and 'twin' share the IP 127.77.0.2"
      })
      expect((yield* failure(makeDeployment({ ...fleet, deckies: [] }))).reason).toBe("no_deckies")
      expect((yield* failure(makeDeployment({ ...fleet, deckies, mutate_interval: 0 }))).reason).toBe(
        "invalid_option"
      )
    }).pipe(seeded(10))
  )
})
