// [docker] The whole pipeline on the REAL engine, as an operator runs it: the shipped CLI
// (dist/bin/decnet.js) deploys 3 deckies from an INI onto a macvlan whose parent is a veth pair this file
// creates, with `decnet bus`, `decnet collect`, `decnet ingest` and `decnet bus sub` running as children
// on a temp socket, SQLite file and evidence log. Real clients (redis-cli, OpenSSH + sshpass) touch a
// decky through the hairpin helper; the event reaches the `logs` and `credentials` tables and the bus
// within the 2 s issue 11 names. Then `decnet mutate` re-creates a decky and `decnet teardown --all`
// leaves nothing behind. Traffic only goes to the /24 that lives on the veth pair; afterAll stops every
// child by its process group and removes every container, the network and the interfaces.
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, ManagedRuntime, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { evidencePaths } from "../../src/collector/Record.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { SqliteLive } from "../../src/db/Client.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import {
  deckyMac,
  LABEL_DECKY,
  LABEL_SERVICE,
  LABEL_SERVICES,
  LAN_NETWORK,
  MACVLAN_HELPER
} from "../../src/fleet/DockerRuntime.js"
import { CLI_BUNDLE } from "../support/cli.js"
import { spawnAsync } from "../support/spawn.js"
import {
  acquireFleetLock,
  buildDeckyBundle,
  DOCKER_SKIP_REASON,
  dockerEnabled,
  ip,
  linkExists,
  removeDockerLeftovers,
  requireRoot,
  vethLan
} from "./dockerSupport.js"

const lan = vethLan("decnet_vf0", "decnet_vf1", "10.213.78")
const { net: NET, hostIp: HOST_IP } = lan

const ALPHA = { name: "decnet-flow-alpha", ip: `${NET}.20` }
const BRAVO = { name: "decnet-flow-bravo", ip: `${NET}.21` }
const CHARLIE = { name: "decnet-flow-charlie", ip: `${NET}.22` }
const NAMES = [ALPHA.name, BRAVO.name, CHARLIE.name]

// alpha: the touched one; bravo: a Windows persona; charlie: the mutated one (web-server's pool is
// http and ftp, so any draw is a set the decky image runs).
const INI = `[general]
net=${lan.subnet}
gw=${lan.gateway}
interface=${lan.parent}

[${ALPHA.name}]
ip=${ALPHA.ip}
services=ssh, redis
nmap_os=linux

[${BRAVO.name}]
ip=${BRAVO.ip}
archetype=windows-workstation

[${CHARLIE.name}]
ip=${CHARLIE.ip}
archetype=web-server
`

/** The issue's deadline from an attacker's touch to the row and the bus message. */
const DEADLINE_MS = 2_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Worker {
  readonly name: string
  readonly child: ChildProcess
  stdout: string
  stderr: string
  readonly exited: Promise<void>
}

interface Envelope {
  readonly topic: string
  readonly type: string
  readonly payload: Record<string, unknown>
}

const envelopes = (w: Worker): ReadonlyArray<Envelope> =>
  w.stdout.split("\n").flatMap((line) => {
    if (line.trim() === "") return []
    try {
      return [JSON.parse(line) as Envelope]
    } catch {
      return []
    }
  })

/** iptables rules (not comments or counters) that mention the test's LAN, its parent or the helper. */
const iptablesMentions = async () => {
  const saved = await spawnAsync("iptables-save", [], { timeout: 30_000 })
  if (saved.status !== 0) throw new Error(`iptables-save failed: ${saved.stderr}`)
  return saved.stdout
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .filter((l) => l.includes(`${NET}.`) || l.includes(MACVLAN_HELPER) || l.includes(lan.parent))
}

if (!dockerEnabled) {
  describe("[docker] the pipeline end to end", () => {
    it.skip(DOCKER_SKIP_REASON, () => {})
  })
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-docker-flow-"))
  const dbFile = path.join(tmp, "decnet.db")
  const logFile = path.join(tmp, "decnet.log")
  const socket = path.join(tmp, "bus.sock")
  const iniFile = path.join(tmp, "fleet.ini")
  // The collector's parsed records, which the ingester reads.
  const jsonFile = evidencePaths(logFile).json
  const env: NodeJS.ProcessEnv = {
    // Nothing of the caller's DECNET_* (a DECNET_DB_URL would win over the path, for one).
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DECNET_"))),
    HOME: tmp,
    DECNET_CONFIG: path.join(tmp, "absent.ini"),
    DECNET_MODE: "master",
    DECNET_DB_TYPE: "sqlite",
    DECNET_DB_PATH: dbFile,
    DECNET_INGEST_LOG_FILE: logFile,
    DECNET_BUS_ENABLED: "true",
    DECNET_BUS_TYPE: "unix",
    DECNET_BUS_SOCKET: socket
  }

  const docker = ManagedRuntime.make(DockerLive.pipe(Layer.provide(DecnetConfig.layer)))
  const inspect = (name: string) => docker.runPromise(Effect.flatMap(Docker, (d) => d.inspectContainer(name)))
  // The test reads the database the workers write; opened once the ingester has migrated it.
  let db: ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, unknown> | undefined
  const query = <Row extends object>(text: string, params: ReadonlyArray<string>) => {
    db ??= ManagedRuntime.make(SqliteLive(dbFile))
    return db.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Row>(text, [...params])))
  }

  const workers: Array<Worker> = []
  /** A long-running CLI child, leader of its own process group (stopped with everything it started). */
  const startWorker = (name: string, args: ReadonlyArray<string>): Worker => {
    const child = spawn(process.execPath, [CLI_BUNDLE, ...args], {
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    const w: Worker = {
      name,
      child,
      stdout: "",
      stderr: "",
      exited: new Promise((resolve) => child.once("exit", () => resolve()))
    }
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      w.stdout += d
    })
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      w.stderr += d
    })
    workers.push(w)
    return w
  }
  const signalGroup = (w: Worker, signal: NodeJS.Signals) => {
    if (w.child.pid === undefined) return
    try {
      process.kill(-w.child.pid, signal)
    } catch {
      // The group is gone already.
    }
  }
  const stopWorkers = async () => {
    const all = workers.splice(0)
    for (const w of all) signalGroup(w, "SIGTERM")
    await Promise.race([Promise.all(all.map((w) => w.exited)), sleep(5_000)])
    for (const w of all) signalGroup(w, "SIGKILL")
    await Promise.race([Promise.all(all.map((w) => w.exited)), sleep(2_000)])
  }
  const waitFor = async (what: string, w: Worker, check: () => boolean, timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs
    while (!check()) {
      if (w.child.exitCode !== null || Date.now() > end)
        throw new Error(`${w.name}: ${what} did not happen (exit ${w.child.exitCode}); stderr:\n${w.stderr}`)
      await sleep(20)
    }
  }

  /** A one-shot CLI command (deploy, mutate, teardown) to completion. */
  const cli = (args: ReadonlyArray<string>) =>
    spawnAsync(process.execPath, [CLI_BUNDLE, ...args], { env, timeout: 180_000 })

  /**
   * Poll every probe from `t0` until each has an answer or `DEADLINE_MS` has passed; what arrived, with
   * how many ms after `t0`. Only the deadline is asserted, never the figures.
   */
  const within = async <K extends string>(
    t0: number,
    probes: Record<K, () => Promise<unknown> | unknown>
  ): Promise<Record<K, { readonly ms: number; readonly value: unknown } | undefined>> => {
    const found: Partial<Record<K, { ms: number; value: unknown }>> = {}
    const keys = Object.keys(probes) as Array<K>
    for (;;) {
      for (const k of keys) {
        if (found[k] !== undefined) continue
        const value = await probes[k]()
        if (value !== undefined) found[k] = { ms: Math.round(performance.now() - t0), value }
      }
      if (keys.every((k) => found[k] !== undefined) || performance.now() - t0 > DEADLINE_MS) break
      await sleep(25)
    }
    return Object.fromEntries(keys.map((k) => [k, found[k]])) as Record<
      K,
      { readonly ms: number; readonly value: unknown } | undefined
    >
  }

  let release: (() => void) | undefined
  let iptablesBefore: ReadonlyArray<string> = []
  let subs: { readonly log: Worker; readonly cred: Worker; readonly decky: Worker } | undefined
  let collector: Worker | undefined
  const timings: Array<string> = []

  const cleanup = async () => {
    await docker.runPromise(removeDockerLeftovers(NAMES)).catch(() => {})
    lan.remove()
  }

  beforeAll(async () => {
    requireRoot("the [docker] fleet tests")
    release = await acquireFleetLock()
    await cleanup()
    lan.create()
    // The images through the CLI, from a decky bundle fresh from src/ (cached by input hash: seconds).
    const bundle = await buildDeckyBundle(tmp)
    const images = await spawnAsync(process.execPath, [CLI_BUNDLE, "images", "build", "--bundle", bundle], {
      env,
      timeout: 600_000
    })
    if (images.status !== 0) throw new Error(`decnet images build failed:\n${images.stderr}`)
    fs.writeFileSync(iniFile, INI)
    iptablesBefore = await iptablesMentions()

    const broker = startWorker("bus", ["bus", "--socket", socket, "--group", "", "--heartbeat", "3600"])
    await waitFor("listening", broker, () => broker.stderr.includes("listening on"))
    subs = {
      log: startWorker("sub system.log", ["bus", "sub", "system.log", "--json"]),
      cred: startWorker("sub credential.captured", ["bus", "sub", "credential.captured", "--json"]),
      decky: startWorker("sub decky.>", ["bus", "sub", "decky.>", "--json"])
    }
    collector = startWorker("collect", ["collect"])
    const ingester = startWorker("ingest", ["ingest"])
    for (const s of Object.values(subs))
      await waitFor("subscribed", s, () => s.stderr.includes("subscribed to"))
    const c = collector
    await waitFor("started", c, () => c.stderr.includes("collector: writing"))
    await waitFor("started", ingester, () => ingester.stderr.includes("ingesting "))
  }, 900_000)

  afterAll(async () => {
    await stopWorkers()
    await cleanup()
    await db?.dispose()
    await docker.dispose()
    fs.rmSync(tmp, { recursive: true, force: true })
    release?.()
    if (timings.length > 0) process.stdout.write(`[docker] flow: ${timings.join("; ")}\n`)
  }, 120_000)

  describe("[docker] the pipeline end to end", () => {
    it("[docker] decnet deploy --config: 3 deckies on the veth's macvlan, own IP and MAC, a Windows TTL; the collector follows them", async () => {
      const t0 = performance.now()
      const deployed = await cli(["deploy", "--config", iniFile, "--interface", lan.parent, "--json"])
      timings.push(`deploy ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      expect(deployed.status, deployed.stderr).toBe(0)
      const state = JSON.parse(deployed.stdout) as {
        config: { interface: string; subnet: string; deckies: Array<{ name: string; ip: string }> }
      }
      expect(state.config).toMatchObject({ interface: lan.parent, subnet: lan.subnet })
      expect(state.config.deckies.map((d) => [d.name, d.ip])).toEqual(
        [ALPHA, BRAVO, CHARLIE].map((d) => [d.name, d.ip])
      )

      const details = await Promise.all(NAMES.map(inspect))
      const endpoints = details.map((c) => c.NetworkSettings.Networks[LAN_NETWORK])
      expect(endpoints.map((e) => e?.IPAddress)).toEqual([ALPHA.ip, BRAVO.ip, CHARLIE.ip])
      expect(endpoints.map((e) => e?.MacAddress)).toEqual(NAMES.map(deckyMac))
      expect(new Set(endpoints.map((e) => e?.MacAddress)).size).toBe(3)
      expect(details.map((c) => c.Config.Labels[LABEL_DECKY])).toEqual(NAMES)
      expect(details[1]?.HostConfig.Sysctls["net.ipv4.ip_default_ttl"]).toBe("128")
      expect(details[0]?.Config.Labels[LABEL_SERVICES]).toBe("ssh,redis")

      const c = collector
      if (c === undefined) throw new Error("no collector")
      for (const [i, name] of NAMES.entries())
        await waitFor(`following ${name}`, c, () =>
          c.stderr.includes(`collector: following ${name} (${details[i]?.Id.slice(0, 12)})`)
        )
    })

    it("[docker] redis-cli and ssh touch a decky: logs row, credentials row, system.log and credential.captured within 2 s", async () => {
      if (subs === undefined) throw new Error("no subscribers")
      const { log, cred } = subs
      const logRow = (service: string, eventType: string) => async () =>
        (
          await query<{ id: number }>(
            "SELECT id FROM logs WHERE decky = ? AND service = ? AND event_type = ? AND attacker_ip = ?",
            [ALPHA.name, service, eventType, HOST_IP]
          )
        )[0]
      const credRow = (service: string, principal: string, secret: string) => async () =>
        (
          await query<{ id: number }>(
            "SELECT id FROM credentials WHERE decky_name = ? AND service = ? AND attacker_ip = ? AND principal = ? AND secret_printable = ? AND secret_sha256 = ?",
            [
              ALPHA.name,
              service,
              HOST_IP,
              principal,
              secret,
              createHash("sha256").update(secret).digest("hex")
            ]
          )
        )[0]
      const published = (w: Worker, topic: string, match: Record<string, unknown>) => () =>
        envelopes(w).find(
          (e) => e.topic === topic && Object.entries(match).every(([k, v]) => e.payload[k] === v)
        )
      const ours = { decky: ALPHA.name, attacker_ip: HOST_IP }

      // The ingester's own system.log: the batch whose file position covers the touch's record.
      const recordEnd = (service: string, eventType: string) => {
        let end = 0
        // Complete lines only: the last piece is empty or still being written.
        for (const line of fs.readFileSync(jsonFile, "utf8").split("\n").slice(0, -1)) {
          end += Buffer.byteLength(line) + 1
          const r = JSON.parse(line) as Record<string, unknown>
          if (r.decky === ALPHA.name && r.service === service && r.event_type === eventType) return end
        }
        return undefined
      }
      const committed = (service: string, eventType: string) => () => {
        const end = recordEnd(service, eventType)
        return end === undefined
          ? undefined
          : envelopes(log).find((e) => e.type === "batch_committed" && Number(e.payload.position) >= end)
      }

      // Redis: AUTH with a username (no requirepass: captured, then refused) and PING.
      const redis = await spawnAsync("redis-cli", ["-h", ALPHA.ip, "-p", "6379"], {
        input: "AUTH flowuser flow-redis-secret\nPING\n",
        timeout: 30_000
      })
      const t0 = performance.now()
      expect(redis.stdout).toContain("PONG")
      const r = await within(t0, {
        logs: logRow("redis", "auth"),
        credentials: credRow("redis", "flowuser", "flow-redis-secret"),
        "system.log": published(log, "system.log", { ...ours, service: "redis", event_type: "auth" }),
        batch_committed: committed("redis", "auth"),
        "credential.captured": published(cred, "credential.captured", { ...ours, service: "redis" })
      })

      // SSH: one password try that the decky refuses (root's password is another).
      const ssh = await spawnAsync(
        "sshpass",
        [
          "-p",
          "flow-ssh-secret",
          "ssh",
          "-F",
          "/dev/null",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "GlobalKnownHostsFile=/dev/null",
          "-o",
          "PubkeyAuthentication=no",
          "-o",
          "PreferredAuthentications=password",
          "-o",
          "NumberOfPasswordPrompts=1",
          "-o",
          "ConnectTimeout=15",
          `root@${ALPHA.ip}`,
          "true"
        ],
        { timeout: 30_000 }
      )
      const t1 = performance.now()
      expect(ssh.status).not.toBe(0)
      expect(ssh.stderr).toContain("Permission denied")
      const s = await within(t1, {
        logs: logRow("ssh", "auth_attempt"),
        credentials: credRow("ssh", "root", "flow-ssh-secret"),
        "system.log": published(log, "system.log", { ...ours, service: "ssh", event_type: "auth_attempt" }),
        batch_committed: committed("ssh", "auth_attempt"),
        "credential.captured": published(cred, "credential.captured", { ...ours, service: "ssh" })
      })

      const arrived = (x: Record<string, { readonly ms: number } | undefined>) =>
        Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v !== undefined]))
      timings.push(
        `redis → ${Object.entries(r)
          .map(([k, v]) => `${k} ${v?.ms ?? "-"} ms`)
          .join(", ")}`,
        `ssh → ${Object.entries(s)
          .map(([k, v]) => `${k} ${v?.ms ?? "-"} ms`)
          .join(", ")}`
      )
      const diagnostics = `\ncollector:\n${collector?.stderr.slice(-2000)}\n`
      expect(arrived(r), diagnostics).toEqual({
        logs: true,
        credentials: true,
        "system.log": true,
        batch_committed: true,
        "credential.captured": true
      })
      expect(arrived(s), diagnostics).toEqual({
        logs: true,
        credentials: true,
        "system.log": true,
        batch_committed: true,
        "credential.captured": true
      })
      // The bus carries the hint, never the secret.
      expect(cred.stdout).not.toContain("flow-redis-secret")
      expect(cred.stdout).not.toContain("flow-ssh-secret")
    })

    it("[docker] decnet mutate --decky: a new container with the new services, same IP and MAC; decky_mutated in the log, the table and on the bus", async () => {
      if (subs === undefined || collector === undefined) throw new Error("no workers")
      const { decky: deckySub } = subs
      const c = collector
      const before = await inspect(CHARLIE.name)
      const mutated = await cli(["mutate", "--decky", CHARLIE.name])
      expect(mutated.status, mutated.stderr).toBe(0)
      const m = new RegExp(`^${CHARLIE.name}: (\\S+) -> (\\S+)$`, "m").exec(mutated.stdout)
      expect(m, mutated.stdout).not.toBeNull()
      const oldServices = m?.[1] ?? ""
      const newServices = m?.[2] ?? ""
      expect(oldServices).toBe("http,ftp")
      expect(newServices).not.toBe(oldServices)

      const after = await inspect(CHARLIE.name)
      expect(after.Id).not.toBe(before.Id)
      expect(after.Config.Labels[LABEL_SERVICES]).toBe(newServices)
      expect(after.Config.Cmd).toContain(newServices)
      expect(after.NetworkSettings.Networks[LAN_NETWORK]?.IPAddress).toBe(CHARLIE.ip)
      expect(after.NetworkSettings.Networks[LAN_NETWORK]?.MacAddress).toBe(deckyMac(CHARLIE.name))
      expect(after.State.Running).toBe(true)
      // The collector picks up the new container from the engine's events.
      await waitFor(`following the new ${CHARLIE.name}`, c, () =>
        c.stderr.includes(`collector: following ${CHARLIE.name} (${after.Id.slice(0, 12)})`)
      )

      const line = fs
        .readFileSync(logFile, "utf8")
        .split("\n")
        .find(
          (l) =>
            l.includes(" decky_mutated ") &&
            l.includes(`decky="${CHARLIE.name}"`) &&
            l.includes('trigger="operator"')
        )
      expect(line).toContain(`new_services="${newServices}"`)
      const operatorRow = async () => {
        const rows = await query<{ fields: string }>(
          "SELECT fields FROM logs WHERE decky = ? AND service = 'mutator' AND event_type = 'decky_mutated'",
          [CHARLIE.name]
        )
        return rows
          .map((row) => JSON.parse(row.fields) as Record<string, string>)
          .find((f) => f.trigger === "operator")
      }
      let row: Record<string, string> | undefined
      for (let i = 0; i < 600 && row === undefined; i++) {
        row = await operatorRow()
        if (row === undefined) await sleep(50)
      }
      expect(row).toMatchObject({ old_services: oldServices, new_services: newServices })
      const event = envelopes(deckySub).find(
        (e) => e.topic === `decky.${CHARLIE.name}.mutation` && e.payload.trigger === "operator"
      )
      expect(event?.payload).toMatchObject({ decky: CHARLIE.name, new_services: newServices.split(",") })
    })

    it("[docker] decnet teardown --all: no decky container, no decnet_lan, no helper, no route or iptables rule; then the veth pair goes", async () => {
      const down = await cli(["teardown", "--all", "--json"])
      expect(down.status, down.stderr).toBe(0)
      expect(new Set((JSON.parse(down.stdout) as { removed: Array<string> }).removed)).toEqual(new Set(NAMES))

      const left = await docker.runPromise(
        Effect.flatMap(Docker, (d) =>
          Effect.all({
            containers: d.listContainers({ labels: { [LABEL_SERVICE]: "true" }, all: true }),
            network: Effect.option(d.inspectNetwork(LAN_NETWORK))
          })
        )
      )
      expect(left.containers.filter((x) => NAMES.includes(x.Labels[LABEL_DECKY] ?? ""))).toEqual([])
      expect(Option.isNone(left.network)).toBe(true)
      expect(linkExists(MACVLAN_HELPER)).toBe(false)
      // Only the parent's own connected route is left (it goes with the pair).
      const routes = ip("-4", "-o", "route", "show").stdout.split("\n")
      expect(routes.filter((l) => l.includes(`${NET}.`) && !l.includes(`dev ${lan.parent} `))).toEqual([])
      const iptablesAfter = await iptablesMentions()
      expect(iptablesAfter).toEqual(iptablesBefore)
      expect(iptablesAfter).toEqual([])

      // The parent was the test's: teardown leaves it, the test's cleanup removes the pair.
      expect(linkExists(lan.parent)).toBe(true)
      lan.remove()
      expect([linkExists(lan.parent), linkExists(lan.peer)]).toEqual([false, false])
    })
  })
}
