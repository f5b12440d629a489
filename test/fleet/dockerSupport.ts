// Shared setup of the [docker] fleet tests (docker-engine, docker-flow): the gate, a veth pair that is the
// macvlan parent of a private /24, the fresh decky bundle, and a host-wide lock. decnet_lan and
// decnet_macvlan0 are fixed names, so two of these files running at once (vitest runs two forks) would
// take each other's network away: each file holds the lock from its setup to its cleanup.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { Docker } from "../../src/docker/Docker.js"
import { IPVLAN_HELPER, LAN_NETWORK, MACVLAN_HELPER } from "../../src/fleet/DockerRuntime.js"
import { spawnAsync } from "../support/spawn.js"

/** The [docker] tests run with DECNET_TEST_DOCKER=1, and then fail, not skip, when something is missing. */
export const dockerEnabled = process.env.DECNET_TEST_DOCKER === "1"
export const DOCKER_SKIP_REASON =
  "runs only with DECNET_TEST_DOCKER=1, a running dockerd, debootstrap and root (see docs/fleet.md)"

export const ROOT = path.resolve(import.meta.dirname, "../..")

export const ip = (...args: Array<string>) => spawnSync("ip", args, { encoding: "utf8" })
export const linkExists = (name: string) => ip("link", "show", "dev", name).status === 0

export const requireRoot = (what: string) => {
  if (process.getuid?.() !== 0) throw new Error(`${what} need root (veth pair, macvlan helper)`)
}

// ---- the lock ----------------------------------------------------------------------------------------

const LOCK_DIR = path.join(os.tmpdir(), "decnet-docker-fleet.lock")
const OWNER = path.join(LOCK_DIR, "owner")

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A lock left by a process that died without its cleanup; a lock being created (no owner yet) is not. */
const stale = () => {
  try {
    const pid = Number(fs.readFileSync(OWNER, "utf8"))
    return Number.isInteger(pid) && pid > 0 && !alive(pid)
  } catch {
    try {
      return Date.now() - fs.statSync(LOCK_DIR).mtimeMs > 30_000
    } catch {
      return false
    }
  }
}

/** Wait for the host's fleet lock (another [docker] fleet file may hold it); returns its release. */
export const acquireFleetLock = async (timeoutMs = 600_000): Promise<() => void> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR)
      fs.writeFileSync(OWNER, String(process.pid))
      return () => fs.rmSync(LOCK_DIR, { recursive: true, force: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
    }
    if (stale()) {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true })
      continue
    }
    if (Date.now() > end)
      throw new Error(`${LOCK_DIR} is still held by another [docker] fleet test after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

// ---- the LAN -----------------------------------------------------------------------------------------

export interface VethLan {
  /** The macvlan parent, with the host's address on the LAN. */
  readonly parent: string
  readonly peer: string
  /** `a.b.c` of the /24. */
  readonly net: string
  readonly subnet: string
  readonly gateway: string
  /** The host's own address on the LAN (the helper takes it too: spec §2, the parent's first inet). */
  readonly hostIp: string
  readonly create: () => void
  /** Remove the helper interfaces and the pair (deleting one end deletes both). Idempotent. */
  readonly remove: () => void
}

export const vethLan = (parent: string, peer: string, net: string): VethLan => {
  const hostIp = `${net}.254`
  const remove = () => {
    for (const link of [MACVLAN_HELPER, IPVLAN_HELPER, parent])
      if (linkExists(link)) ip("link", "del", "dev", link)
  }
  return {
    parent,
    peer,
    net,
    subnet: `${net}.0/24`,
    gateway: `${net}.1`,
    hostIp,
    create: () => {
      remove()
      const made = ip("link", "add", parent, "type", "veth", "peer", "name", peer)
      if (made.status !== 0) throw new Error(`ip link add ${parent}: ${made.stderr}`)
      ip("link", "set", "dev", parent, "up")
      ip("link", "set", "dev", peer, "up")
      ip("addr", "add", `${hostIp}/24`, "dev", parent)
    },
    remove
  }
}

/** Remove the named containers and the LAN network, whatever state they are in. */
export const removeDockerLeftovers = (names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const docker = yield* Docker
    for (const name of names) yield* docker.removeContainer(name, { force: true }).pipe(Effect.ignore)
    yield* docker.removeNetwork(LAN_NETWORK).pipe(Effect.ignore)
  })

// ---- the decky bundle --------------------------------------------------------------------------------

/** The decky bundle fresh from src/ (the bytes `npm run build` ships, so CI's prebuilt images match). */
export const buildDeckyBundle = async (dir: string): Promise<string> => {
  const bundle = path.join(dir, "decky.js")
  const built = await spawnAsync(process.execPath, [path.join(ROOT, "scripts", "build-decky.mjs"), bundle], {
    cwd: ROOT,
    timeout: 120_000
  })
  if (built.status !== 0) throw new Error(`scripts/build-decky.mjs failed:\n${built.stderr}`)
  return bundle
}
