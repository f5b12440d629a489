// Differential fidelity, http (issue 14): Debian's Apache 2.4 (apache2 -X with a Debian-like config,
// test/fidelity/servers/http.ts) and the http emulator get the same probes: nmap's service probes for
// port 80 (read from the installed nmap-service-probes), Apache's error cases (bad methods, TRACE,
// over-long URI, bad header lines, too many headers, a missing Host, HTTP/0.9, CONNECT, garbage),
// keep-alive and pipelining, and a browser-like GET. Two sites: Debian's default site (the emulator's
// fake_app apache_default) and an all-denied one (the emulator's default, fake_app none). Date,
// Last-Modified and ETag are normalised (the emulator's index page has its own, stable mtime).
// Accepted differences: test/fidelity/accepted/http.ts.
import { existsSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, decnet, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { accepted } from "./accepted/http.js"
import { differences } from "./diff.js"
import { corpus, normalise, PROBES_FILE } from "./httpCorpus.js"
import { probe, untilAnswered } from "./probe.js"
import { APACHE, deniedConfig, emulatorConfig, HOSTNAME, startApache } from "./servers/http.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const ready = existsSync(APACHE) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip

suite("http: the emulator answers probes as Debian's Apache 2.4 does", () => {
  let real: Awaited<ReturnType<typeof startApache>> | undefined
  const ports = { real: 0, realDenied: 0, fake: 0, fakeDenied: 0 }

  beforeAll(async () => {
    ports.real = await freePort()
    ports.realDenied = await freePort()
    ports.fake = await freePort()
    ports.fakeDenied = await freePort()
    real = await startApache({ host: "127.0.0.1", port: ports.real, deniedPort: ports.realDenied })
    const emulator = (port: number, config: Record<string, unknown>) =>
      decnet(
        [
          "honeypot",
          "http",
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--hostname",
          HOSTNAME,
          "--config",
          JSON.stringify(config)
        ],
        cleanEnv({})
      )
    const fakes = [emulator(ports.fake, emulatorConfig), emulator(ports.fakeDenied, deniedConfig)]
    await untilAnswered(
      fakes,
      [ports.fake, ports.fakeDenied].map(
        (p) => () => probe("127.0.0.1", p, Buffer.from("GET / HTTP/1.0\r\n\r\n"), 100)
      )
    )
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
  })

  it("answers nmap's port-80 probes, Apache's error cases and a browser like Debian's default site", async () => {
    const c = corpus(80)
    expect(c.map((p) => p.name)).toContain("GetRequest")
    const found = await differences(
      { host: "127.0.0.1", port: ports.real },
      { host: "127.0.0.1", port: ports.fake },
      c,
      accepted,
      { realName: "apache2", normalise }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("answers them like an Apache whose <Directory /> denies everything (the default persona)", async () => {
    const found = await differences(
      { host: "127.0.0.1", port: ports.realDenied },
      { host: "127.0.0.1", port: ports.fakeDenied },
      corpus(80),
      accepted,
      { realName: "apache2", normalise }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)
})
