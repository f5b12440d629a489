// [docker] The Docker runtime and the image builder on the REAL engine (gated like test/docker: they run
// with DECNET_TEST_DOCKER=1 and then fail, not skip, when something is missing). Everything lives on a
// veth pair this file creates (decnet_vp0/decnet_vp1) and a /24 that exists only there; the host reaches
// its deckies through the hairpin helper, with the real redis-cli and ssh. afterAll removes every
// container, the network, the helper interfaces and the veth pair whatever happened.
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Either, Layer, Logger, LogLevel, ManagedRuntime, Option, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { osSysctls } from "../../src/catalog/index.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import {
  DockerRuntime,
  deckyMac,
  IPVLAN_HELPER,
  LABEL_DECKY,
  LABEL_SERVICE,
  LABEL_SERVICES,
  LAN_NETWORK,
  MACVLAN_HELPER
} from "../../src/fleet/DockerRuntime.js"
import { HostNetwork, HostNetworkLive } from "../../src/fleet/HostNetwork.js"
import { BASE_IMAGE, buildImages, deckyImage, LABEL_HASH } from "../../src/fleet/Images.js"
import { Decky, Deployment } from "../../src/fleet/Model.js"
import { DeckyRuntime } from "../../src/fleet/Runtime.js"
import { spawnAsync } from "../support/spawn.js"
import {
  acquireFleetLock,
  buildDeckyBundle,
  DOCKER_SKIP_REASON,
  dockerEnabled,
  ip,
  removeDockerLeftovers,
  requireRoot,
  vethLan
} from "./dockerSupport.js"

const lan = vethLan("decnet_vp0", "decnet_vp1", "10.213.77")
const { parent: PARENT, net: NET, hostIp: HOST_IP } = lan

const decky = (
  name: string,
  ip: string,
  services: readonly [Decky["services"][number], ...Array<Decky["services"][number]>],
  extra: Partial<ConstructorParameters<typeof Decky>[0]> = {}
) =>
  new Decky({
    name,
    ip,
    services,
    distro: "debian",
    base_image: BASE_IMAGE,
    build_base: BASE_IMAGE,
    hostname: `host-${name}`,
    archetype: null,
    service_config: {},
    nmap_os: "linux",
    mutate_interval: null,
    last_mutated: 0,
    last_login_attempt: 0,
    host_uuid: null,
    ...extra
  })

const alpha = decky("decnet-it-alpha", `${NET}.10`, ["ssh", "redis"])
const bravo = decky("decnet-it-bravo", `${NET}.11`, ["smb", "rdp"], {
  archetype: "windows-workstation",
  nmap_os: "windows",
  // No ubuntu22 image can be built here: the runtime falls back to the debian one (with a warning).
  distro: "ubuntu22"
})
const charlie = decky("decnet-it-charlie", `${NET}.12`, ["http", "mysql"], { nmap_os: "embedded" })
const FLEET = [alpha, bravo, charlie] as const

const deployment = (
  deckies: ReadonlyArray<Decky>,
  extra: Partial<ConstructorParameters<typeof Deployment>[0]> = {}
) => {
  const [first, ...rest] = deckies
  if (first === undefined) throw new Error("a deployment needs a decky")
  return new Deployment({
    mode: "unihost",
    runtime: "docker",
    interface: PARENT,
    subnet: `${NET}.0/24`,
    gateway: `${NET}.1`,
    deckies: [first, ...rest],
    log_file: null,
    ipvlan: false,
    mutate_interval: null,
    ...extra
  })
}

/** The reply TTL of one ICMP echo, read from the reply's IP header on a raw socket (root). */
const PING_TTL = `
import os, socket, struct, sys, time
dst = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ident = os.getpid() & 0xffff
body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"decnet-ttl"
pkt = struct.pack("!BBHHH", 8, 0, csum(body), ident, 1) + b"decnet-ttl"
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(3)
s.sendto(pkt, (dst, 0))
end = time.time() + 3
while time.time() < end:
    buf, addr = s.recvfrom(2048)
    ihl = (buf[0] & 0xf) * 4
    t, _, _, rid, _ = struct.unpack("!BBHHH", buf[ihl:ihl + 8])
    if addr[0] == dst and t == 0 and rid == ident:
        print(buf[8]); sys.exit(0)
sys.exit(1)
`

/** The engine's raw inspect JSON (fields the Docker service's Schema does not keep, e.g. LogConfig). */
const rawInspect = (name: string) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    http
      .get({ socketPath: "/var/run/docker.sock", path: `/containers/${name}/json` }, (res) => {
        let body = ""
        res.setEncoding("utf8").on("data", (d: string) => {
          body += d
        })
        res.on("end", () => resolve(JSON.parse(body)))
      })
      .on("error", reject)
  })

const dockerLayer = DockerLive.pipe(Layer.provide(DecnetConfig.layer))
const hostLayer = HostNetworkLive.pipe(Layer.provide(NodeContext.layer))
const testLayer = DockerRuntime({ readyTimeout: "60 seconds" }).pipe(
  Layer.provideMerge(Layer.mergeAll(dockerLayer, hostLayer, NodeContext.layer)),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

if (!dockerEnabled) {
  describe("[docker] Docker runtime and images", () => {
    it.skip(DOCKER_SKIP_REASON, () => {})
  })
} else {
  const rt = ManagedRuntime.make(testLayer)
  const run = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof testLayer>>) =>
    rt.runPromise(effect)
  const runEither = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof testLayer>>) =>
    rt.runPromise(Effect.either(effect))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-docker-fleet-"))
  const allNames = [...FLEET.map((d) => d.name), "decnet-it-bad", "decnet-it-live"]

  let release: (() => void) | undefined
  const cleanup = async () => {
    await run(removeDockerLeftovers(allNames)).catch(() => {})
    lan.remove()
  }

  beforeAll(async () => {
    requireRoot("the [docker] fleet tests")
    release = await acquireFleetLock()
    await cleanup()
    lan.create()
    const bundle = await buildDeckyBundle(tmp)
    const progress: Array<string> = []
    const images = await run(
      buildImages({
        distro: "debian",
        bundlePath: bundle,
        progress: (l) => Effect.sync(() => void progress.push(l))
      })
    )
    process.stdout.write(`[docker] images: ${progress.join(" | ")}\n`)
    expect(images.map((i) => i.image)).toEqual([BASE_IMAGE, deckyImage("debian")])
  }, 900_000)

  afterAll(async () => {
    await cleanup()
    await rt.dispose()
    fs.rmSync(tmp, { recursive: true, force: true })
    release?.()
  }, 120_000)

  describe("[docker] Docker runtime and images", () => {
    it("[docker] images: a second build with the same inputs is cached, with the same hash labels", async () => {
      const bundle = path.join(tmp, "decky.js")
      const again = await run(
        buildImages({ distro: "debian", bundlePath: bundle, progress: () => Effect.void })
      )
      expect(again.map((i) => i.cached)).toEqual([true, true])
      const labels = await run(
        Effect.flatMap(Docker, (docker) =>
          Effect.all(
            again.map((i) => Effect.map(docker.inspectImage(i.image), (d) => d.Config.Labels[LABEL_HASH]))
          )
        )
      )
      expect(labels).toEqual(again.map((i) => i.hash))
      // No registry: another distro fails with what can be built and that pulling is not available.
      const other = await runEither(
        buildImages({ distro: "rocky9", bundlePath: bundle, progress: () => Effect.void })
      )
      expect(Either.isLeft(other) && other.left.message).toMatch(
        /only debian can be built.*pulling is not available/s
      )
    })

    it("[docker] 3 deckies on a macvlan: own IP and MAC, persona sysctls, labels, log rotation; reachable from the host", async () => {
      const d = deployment(FLEET)
      await run(Effect.flatMap(DeckyRuntime, (r) => r.prepare(d)))
      const seconds: Array<number> = []
      for (const x of FLEET) {
        const t0 = performance.now()
        const ports = await run(Effect.flatMap(DeckyRuntime, (r) => r.up(x, d)))
        seconds.push((performance.now() - t0) / 1000)
        expect(ports.every((p) => p.host === x.ip && p.port === p.known)).toBe(true)
        expect(new Set(ports.map((p) => p.service))).toEqual(new Set(x.services))
      }
      process.stdout.write(
        `[docker] up seconds per decky (images cached): ${seconds.map((s) => s.toFixed(2)).join(", ")}; mean ${(
          seconds.reduce((a, b) => a + b, 0) / seconds.length
        ).toFixed(2)} s (bench target ≤ 1 s)\n`
      )

      const details = await run(
        Effect.flatMap(Docker, (docker) => Effect.forEach(FLEET, (x) => docker.inspectContainer(x.name)))
      )
      const macs = new Set<string>()
      for (const [i, c] of details.entries()) {
        const x = FLEET[i]
        if (x === undefined) throw new Error("fleet index")
        const ep = c.NetworkSettings.Networks[LAN_NETWORK]
        expect(ep?.IPAddress).toBe(x.ip)
        expect(ep?.MacAddress).toBe(deckyMac(x.name))
        macs.add(ep?.MacAddress ?? "")
        expect(c.Config.Hostname).toBe(x.hostname)
        expect(c.HostConfig.Sysctls).toEqual(osSysctls(x.nmap_os))
        expect(c.HostConfig.RestartPolicy.Name).toBe("unless-stopped")
        expect(c.HostConfig.CapAdd).toContain("NET_BIND_SERVICE")
        expect(c.Config.Labels).toMatchObject({
          [LABEL_SERVICE]: "true",
          [LABEL_DECKY]: x.name,
          [LABEL_SERVICES]: x.services.join(",")
        })
        expect(c.Config.Image).toBe(deckyImage("debian"))
        const raw = await rawInspect(x.name)
        expect(raw).toMatchObject({
          HostConfig: { LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "5" } } }
        })
      }
      expect(macs.size).toBe(3)
      expect(details.map((c) => c.HostConfig.Sysctls["net.ipv4.ip_default_ttl"])).toEqual([
        "64",
        "128",
        "255"
      ])

      // One real check of the persona: the TTL of the deckies' ICMP echo replies as they reach the host.
      for (const [x, ttl] of [
        [alpha, "64"],
        [bravo, "128"],
        [charlie, "255"]
      ] as const) {
        const probe = await spawnAsync("python3", ["-c", PING_TTL, x.ip], { timeout: 15_000 })
        expect({ decky: x.name, ttl: probe.stdout.trim() }).toEqual({ decky: x.name, ttl })
      }

      // The real clients, through the hairpin helper.
      const redis = await spawnAsync("redis-cli", ["-h", alpha.ip, "-p", "6379", "PING"], { timeout: 20_000 })
      expect(redis.stdout.trim()).toBe("PONG")
      const ssh = await spawnAsync(
        "sshpass",
        [
          "-p",
          "admin",
          "ssh",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "ConnectTimeout=15",
          "-o",
          "PubkeyAuthentication=no",
          `root@${alpha.ip}`,
          "uname -n"
        ],
        { timeout: 30_000 }
      )
      expect(ssh.stdout.trim()).toBe(alpha.hostname)

      // What the collector will read: the decky's RFC 5424 events on its stdout, from the helper's address.
      const lines = await run(
        Effect.flatMap(Docker, (docker) =>
          Stream.runCollect(docker.containerLogs(alpha.name, { stdout: true, stderr: false }))
        )
      )
      const text = [...lines].map((l) => l.line).join("\n")
      expect(text).toMatch(new RegExp(`${alpha.name} redis - command \\[relay@55555 src_ip="${HOST_IP}"`))
      expect(text).toMatch(new RegExp(`${alpha.name} ssh - auth_attempt \\[relay@55555 src_ip="${HOST_IP}"`))

      const status = await run(Effect.flatMap(DeckyRuntime, (r) => r.status))
      const ours = status.filter((s) => FLEET.some((x) => x.name === s.name))
      expect(ours.map((s) => [s.name, s.state])).toEqual(FLEET.map((x) => [x.name, "running"]))
      expect(ours[0]?.ports.map((p) => `${p.service} ${p.host}:${p.port}/${p.proto}`)).toEqual([
        `ssh ${alpha.ip}:22/tcp`,
        `redis ${alpha.ip}:6379/tcp`
      ])
    })

    it("[docker] up is idempotent; a mutation re-creates the container with the same IP and MAC", async () => {
      const d = deployment(FLEET)
      const idOf = () => run(Effect.flatMap(Docker, (docker) => docker.inspectContainer(alpha.name)))
      const before = await idOf()
      await run(Effect.flatMap(DeckyRuntime, (r) => r.up(alpha, d)))
      expect((await idOf()).Id).toBe(before.Id)

      const mutated = new Decky({ ...alpha, services: ["ssh", "ftp"] })
      const ports = await run(Effect.flatMap(DeckyRuntime, (r) => r.up(mutated, d)))
      expect(ports.map((p) => `${p.service}:${p.port}`)).toEqual(["ssh:22", "ftp:21"])
      const after = await idOf()
      expect(after.Id).not.toBe(before.Id)
      expect(after.Config.Labels[LABEL_SERVICES]).toBe("ssh,ftp")
      expect(after.NetworkSettings.Networks[LAN_NETWORK]?.IPAddress).toBe(alpha.ip)
      expect(after.NetworkSettings.Networks[LAN_NETWORK]?.MacAddress).toBe(deckyMac(alpha.name))
      // ftp answers now, redis no longer does.
      const ftp = await spawnAsync(
        "curl",
        ["-s", "--max-time", "10", "-u", "anonymous:x", `ftp://${alpha.ip}/`],
        {
          timeout: 20_000
        }
      )
      const redis = await spawnAsync("redis-cli", ["-h", alpha.ip, "-p", "6379", "PING"], { timeout: 20_000 })
      expect({ ftp: ftp.status === 67 || ftp.status === 0, redis: redis.stdout.trim() === "PONG" }).toEqual({
        ftp: true,
        redis: false
      })
    })

    it("[docker] a decky whose container cannot start leaves nothing behind", async () => {
      // Its address is alpha's: the engine refuses to start it (address in use).
      const bad = decky("decnet-it-bad", alpha.ip, ["redis"])
      const result = await runEither(
        Effect.flatMap(DeckyRuntime, (r) => r.up(bad, deployment([...FLEET, bad])))
      )
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.message).toMatch(/decnet-it-bad: start: .*/)
      const left = await run(
        Effect.flatMap(Docker, (docker) =>
          docker.listContainers({ labels: { [LABEL_DECKY]: "decnet-it-bad" } })
        )
      )
      expect(left).toEqual([])
    })

    it("[docker] decnet_lan: the same pool is reused; drift with live containers is kept; drift without is recreated", async () => {
      const netId = () => run(Effect.flatMap(Docker, (docker) => docker.inspectNetwork(LAN_NETWORK)))
      const d = deployment(FLEET)
      const first = await netId()
      await run(Effect.flatMap(DeckyRuntime, (r) => r.prepare(d)))
      expect((await netId()).Id).toBe(first.Id)
      // A fleet with a wider ip-range while deckies run: reused as it is.
      const wider = deployment([...FLEET, decky("decnet-it-live", `${NET}.40`, ["redis"])])
      await run(Effect.flatMap(DeckyRuntime, (r) => r.prepare(wider)))
      const kept = await netId()
      expect(kept.Id).toBe(first.Id)
      expect(kept.IPAM.Config[0]?.IPRange).toBe(`${NET}.8/29`)
      // Every decky down: the drifted network is removed and recreated with the new pool.
      for (const x of FLEET) await run(Effect.flatMap(DeckyRuntime, (r) => r.down(x.name)))
      await run(Effect.flatMap(DeckyRuntime, (r) => r.prepare(wider)))
      const recreated = await netId()
      expect(recreated.Id).not.toBe(first.Id)
      expect(recreated.IPAM.Config[0]?.IPRange).toBe(`${NET}.0/26`)
      const routes = ip("-4", "-o", "route", "show", "dev", MACVLAN_HELPER).stdout
      expect(routes.trim().split(/\s+/)[0]).toBe(`${NET}.0/26`)
      // ... and a decky comes up on it again.
      await run(Effect.flatMap(DeckyRuntime, (r) => r.up(alpha, wider)))
      const redis = await spawnAsync("redis-cli", ["-h", alpha.ip, "-p", "6379", "PING"], { timeout: 20_000 })
      expect(redis.stdout.trim()).toBe("PONG")
    })

    it("[docker] down + release leave no container, network, helper interface or route", async () => {
      const d = deployment(FLEET)
      for (const x of FLEET) await run(Effect.flatMap(DeckyRuntime, (r) => r.down(x.name)))
      await run(Effect.flatMap(DeckyRuntime, (r) => r.down("decnet-it-never-existed")))
      await run(Effect.flatMap(DeckyRuntime, (r) => r.release(d)))
      const leftovers = await run(
        Effect.flatMap(Docker, (docker) =>
          Effect.all({
            containers: docker.listContainers({ labels: { [LABEL_SERVICE]: "true" } }),
            network: Effect.option(docker.inspectNetwork(LAN_NETWORK))
          })
        )
      )
      expect(leftovers.containers.filter((c) => allNames.includes(c.Labels[LABEL_DECKY] ?? ""))).toEqual([])
      expect(Option.isNone(leftovers.network)).toBe(true)
      expect(ip("link", "show", "dev", MACVLAN_HELPER).status).not.toBe(0)
      expect(ip("-4", "route", "show", `${NET}.0/26`).stdout.trim()).toBe("")
      // The test's own veth pair goes in afterAll; release never touches the parent.
      expect(ip("link", "show", "dev", PARENT).status).toBe(0)
    })

    it("[docker] ipvlan L2 (skipped with the reason where the kernel has no ipvlan)", async (ctx) => {
      const d = deployment([alpha], { ipvlan: true })
      const prepared = await runEither(Effect.flatMap(DeckyRuntime, (r) => r.prepare(d)))
      if (Either.isLeft(prepared) && /not supported by this host's kernel/.test(prepared.left.message)) {
        // Nothing of the failed prepare is left behind.
        expect(ip("link", "show", "dev", IPVLAN_HELPER).status).not.toBe(0)
        ctx.skip(`ipvlan unavailable here: ${prepared.left.message}`)
        return
      }
      if (Either.isLeft(prepared)) throw new Error(prepared.left.message)
      await run(Effect.flatMap(DeckyRuntime, (r) => r.up(alpha, d)))
      const redis = await spawnAsync("redis-cli", ["-h", alpha.ip, "-p", "6379", "PING"], { timeout: 20_000 })
      expect(redis.stdout.trim()).toBe("PONG")
      await run(Effect.flatMap(DeckyRuntime, (r) => r.down(alpha.name)))
      await run(Effect.flatMap(DeckyRuntime, (r) => r.release(d)))
      expect(ip("link", "show", "dev", IPVLAN_HELPER).status).not.toBe(0)
    })

    it("[docker] the runtime needs the helper's host tool: HostNetwork runs the real ip", async () => {
      const out = await run(Effect.flatMap(HostNetwork, (h) => h.ip(["-o", "link", "show", "dev", PARENT])))
      expect(out).toContain(PARENT)
    })
  })
}
