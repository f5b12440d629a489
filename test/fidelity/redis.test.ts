// Differential fidelity, redis (issue 14): Debian's redis-server and the redis emulator, both on loopback
// with a password, get the same probes: nmap's own service probes for port 6379 (read from the installed
// nmap-service-probes), Redis's error cases (unknown command, arity, AUTH forms, HELLO, protocol errors)
// and a pipelined burst. What a scanner can observe must match: the reply bytes, and whether the
// connection was then closed, reset or left open. Accepted differences: test/fidelity/accepted/redis.ts.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { stopAll } from "../support/proc.js"
import { accepted } from "./accepted/redis.js"
import { differences, named } from "./diff.js"
import { startEmulator } from "./nmap.js"
import { nmapProbes } from "./probe.js"
import { emulatorConfig, REDIS, start } from "./servers/redis.js"
import type { RealServer } from "./servers/types.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready = existsSync(REDIS) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip

const OUR_PROBES = [
  "GET / HTTP/1.0\r\n\r\n",
  "PING\r\n",
  "PING a b\r\n",
  "ECHO\r\n",
  "FOO bar\r\n",
  `foo ${"x".repeat(200)} y\r\n`,
  "GET\r\n",
  "GET a\r\n",
  "SET a\r\n",
  "INFO\r\n",
  "AUTH\r\n",
  "AUTH wrong\r\n",
  "AUTH a b\r\n",
  "AUTH a b c\r\n",
  "HELLO 3\r\n",
  "QUIT\r\n",
  "\r\n",
  "*1\r\n$4\r\nPING\r\n",
  "*2\r\n$3\r\nGET\r\n",
  "*x\r\n",
  "*1\r\n$-5\r\n",
  "PING\r\n".repeat(100)
]

suite("redis: the emulator answers probes as Debian's redis-server does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-redis-"))

  beforeAll(async () => {
    real = await start({ host: "127.0.0.1", port: await freePort() })
    fakePort = await freePort()
    await startEmulator("redis", "127.0.0.1", [fakePort], emulatorConfig, dir)
  })

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("is the Redis version the emulator's INFO claims is plausible for (the real one is 7.x)", () => {
    const v = spawnSync(REDIS, ["--version"], { encoding: "utf8" }).stdout
    expect(v).toMatch(/Redis server v=7\./)
  })

  it("answers nmap's probes for 6379 and Redis's error cases with the same bytes and the same ending", async () => {
    const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), 6379), ...named(OUR_PROBES)]
    expect(corpus.map((c) => c.name)).toContain("redis-server")
    const found = await differences(
      { host: "127.0.0.1", port: real?.port ?? 0 },
      { host: "127.0.0.1", port: fakePort },
      corpus,
      accepted,
      { realName: "redis-server" }
    )
    expect(found, found.join("\n")).toEqual([])
  })
})
