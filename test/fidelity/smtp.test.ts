// Differential fidelity, smtp (issue 14): Debian's Postfix 3.7 (configured as a fresh Ubuntu install with
// STARTTLS and SMTP AUTH whose logins all fail, test/fidelity/servers/smtp.ts) and the smtp emulator in its
// default harvester mode, both on loopback and claiming the same hostname, get the same probes: nmap's own
// service probes for port 25 (read from the installed nmap-service-probes), Postfix's error cases (unknown
// and forbidden commands, syntax, sequence, parameters, the error limit), AUTH, and scripted client
// sessions. What a scanner can observe must match: the reply bytes (queue ids normalised), and whether the
// connection was then closed, reset or left open; and after STARTTLS, the TLS surface ssl-enum-ciphers
// enumerates (tlsScan.ts). Accepted differences: test/fidelity/accepted/smtp.ts.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll } from "../support/proc.js"
import { accepted } from "./accepted/smtp.js"
import { differences, named } from "./diff.js"
import { nmapProbes, probe, untilAnswered } from "./probe.js"
import { ERRORS, normalise, PROBES, RELAY_PROBES, SLOW_PROBES } from "./smtpCorpus.js"
import type { RealServer } from "./servers/types.js"
import { emulatorConfig, HOSTNAME, MASTER, POSTCONF, SASL_PLUGINS, startPostfix } from "./servers/smtp.js"
import { describeSurface, scanTls, surfaceDifferences, upgrades } from "./tlsScan.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const root = process.getuid?.() === 0
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready =
  root && existsSync(MASTER) && SASL_PLUGINS.every((f) => existsSync(f)) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip
const HOST = "127.0.0.1"

suite("smtp: the emulator answers probes as Debian's Postfix does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  let relayPort = 0
  let fakeRelayPort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-smtp-"))

  const emulator = (slug: string, port: number, config: Record<string, unknown>) =>
    decnet(
      ["honeypot", slug, "--host", HOST, "--port", String(port), "--hostname", HOSTNAME].concat([
        "--config",
        JSON.stringify(config)
      ]),
      cleanEnv({ HOME: dir })
    )

  beforeAll(async () => {
    const realPort = await freePort()
    relayPort = await freePort()
    fakePort = await freePort()
    fakeRelayPort = await freePort()
    const fakes = [
      emulator("smtp", fakePort, emulatorConfig),
      emulator("smtp_relay", fakeRelayPort, { rcpt_drop_rate: 0, quarantine: false })
    ]
    real = await startPostfix({ host: HOST, port: realPort, hostname: HOSTNAME, relayPort })
    await untilAnswered(
      fakes,
      [fakePort, fakeRelayPort].map((port) => () => probe(HOST, port, Buffer.alloc(0), 100))
    )
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("is the Postfix release Debian ships (3.7), whose smtpd the emulator imitates", () => {
    const v = spawnSync(POSTCONF, ["-d", "mail_version"], { encoding: "utf8" }).stdout
    expect(v).toMatch(/^mail_version = 3\.7\./)
  })

  it("answers nmap's probes for 25 and Postfix's error cases with the same bytes and the same ending", async () => {
    const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), 25), ...named(PROBES)]
    expect(corpus.map((c) => c.name)).toEqual(expect.arrayContaining(["NULL", "Hello", "Help"]))
    // Three interleaved shards at once (the real server keeps several smtpd processes warm).
    const shards = [0, 1, 2].map((k) => corpus.filter((_, i) => i % 3 === k))
    const found = (
      await Promise.all(
        shards.map((shard) =>
          differences(
            { host: HOST, port: real?.port ?? 0 },
            { host: HOST, port: fakePort },
            shard,
            accepted,
            { realName: "postfix", normalise }
          )
        )
      )
    ).flat()
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)

  it("delays failed logins and every reply past the 10th error, and closes after the 20th, as Postfix does", async () => {
    const slow = Promise.all(
      named(SLOW_PROBES).map((p) =>
        differences({ host: HOST, port: real?.port ?? 0 }, { host: HOST, port: fakePort }, [p], accepted, {
          realName: "postfix",
          normalise,
          quietMs: 3_500
        })
      )
    )
    // 22 unknown commands at once: 10 answered at once, 10 a second apart, then 421 and the close.
    const [a, b] = await Promise.all(
      [real?.port ?? 0, fakePort].map((port) => probe(HOST, port, Buffer.from(ERRORS), 1_500, 20_000))
    )
    expect(normalise(b?.reply ?? Buffer.alloc(0))).toEqual(normalise(a?.reply ?? Buffer.alloc(0)))
    expect(b?.ending).toEqual(a?.ending)
    expect(a?.reply.toString("latin1")).toContain(`421 4.7.0 ${HOSTNAME} Error: too many errors\r\n`)
    const found = (await slow).flat()
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)

  it("offers Postfix's TLS after STARTTLS: versions, suites and whose order, groups, DHE, tickets", async () => {
    const [a, b] = await Promise.all([
      scanTls(HOST, real?.port ?? 0, upgrades.smtp),
      scanTls(HOST, fakePort, upgrades.smtp)
    ])
    console.log(`postfix STARTTLS:\n  ${describeSurface(a).join("\n  ")}`)
    // What was measured on Postfix 3.7 with Debian's defaults (so a broken scan cannot pass as equal).
    expect(a.versions.map((v) => `${v.version} ${v.order} ${v.suites.length}`)).toEqual([
      "TLSv1 client 16",
      "TLSv1.1 client 16",
      "TLSv1.2 client 56",
      "TLSv1.3 client 3"
    ])
    const found = surfaceDifferences(a, b, accepted, "postfix")
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("as smtp_relay, takes a spam run's message as Postfix relaying for the client does", async () => {
    const found = await differences(
      { host: HOST, port: relayPort },
      { host: HOST, port: fakeRelayPort },
      named(RELAY_PROBES),
      accepted,
      { realName: "postfix (relay)", normalise, quietMs: 600 }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)
})
