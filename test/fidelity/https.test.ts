// Differential fidelity, https (issue 14): Debian's Apache 2.4 with mod_ssl and mod_http2
// (test/fidelity/servers/https.ts) and the https emulator. Three comparisons:
// - nmap's probes for port 443 (the TLS ones included), raw on TCP, as nmap sends them;
// - the http corpus (Apache's error cases, keep-alive, a browser-like GET) inside TLS, same
//   normalisation as the http test;
// - the TLS surface a scanner enumerates: which protocol versions and which cipher suites each
//   accepts, one handshake per version and per suite (what nmap's ssl-enum-ciphers does), and ALPN; and
//   the whole surface tlsScan.ts enumerates (whose order, groups, DHE, tickets).
// Accepted differences: test/fidelity/accepted/https.ts.
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as tls from "node:tls"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, decnet, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { accepted } from "./accepted/https.js"
import { differences } from "./diff.js"
import { corpus, normalise, normaliseTls, PROBES_FILE } from "./httpCorpus.js"
import { observe, untilAnswered } from "./probe.js"
import { APACHE, HOSTNAME } from "./servers/http.js"
import { emulatorConfig, start } from "./servers/https.js"
import type { RealServer } from "./servers/types.js"
import { describeSurface, scanTls, surfaceDifferences } from "./tlsScan.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const ready = existsSync(APACHE) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip

/** One probe inside TLS: handshake, send, read until `quietMs` of silence; the ending as probe.ts's. */
const tlsProbe = (port: number, bytes: Buffer, quietMs = 300) =>
  observe("127.0.0.1", port, bytes, {
    quietMs,
    maxMs: 5_000,
    tls: { rejectUnauthorized: false, servername: HOSTNAME },
    errors: "closed"
  })

/** Whether a handshake with exactly these settings succeeds, and what it negotiated. */
const handshake = (port: number, options: tls.ConnectionOptions) =>
  new Promise<string>((resolve) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      servername: HOSTNAME,
      ...options
    })
    const done = (r: string) => {
      s.destroy()
      resolve(r)
    }
    s.on("secureConnect", () =>
      done(`${s.getProtocol()} ${s.getCipher().standardName} alpn=${String(s.alpnProtocol)}`)
    )
    s.on("error", () => done("refused"))
    setTimeout(() => done("timeout"), 3_000)
  })

/** Every TLS 1.2 suite this OpenSSL knows, by OpenSSL name. */
const tls12Suites = (): Array<string> =>
  execFileSync("openssl", ["ciphers", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], { encoding: "utf8" })
    .trim()
    .split(":")
    .filter((c) => !c.startsWith("TLS_"))

const TLS13 = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]

suite("https: the emulator answers as Debian's Apache 2.4 with mod_ssl does", () => {
  let real: RealServer | undefined
  const ports = { real: 0, fake: 0 }

  beforeAll(async () => {
    ports.real = await freePort()
    ports.fake = await freePort()
    real = await start({ host: "127.0.0.1", port: ports.real })
    const fake = decnet(
      [
        "honeypot",
        "https",
        "--host",
        "127.0.0.1",
        "--port",
        String(ports.fake),
        "--hostname",
        HOSTNAME,
        "--artifacts-dir",
        `/tmp/decnet-fidelity-https-${ports.fake}`,
        "--config",
        JSON.stringify(emulatorConfig)
      ],
      cleanEnv({})
    )
    await untilAnswered([fake], [() => tlsProbe(ports.fake, Buffer.from("GET / HTTP/1.0\r\n\r\n"), 100)])
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    execFileSync("rm", ["-rf", `/tmp/decnet-fidelity-https-${ports.fake}`])
  })

  it("answers nmap's port-443 probes (raw, on TCP) as Apache does", async () => {
    const found = await differences(
      { host: "127.0.0.1", port: ports.real },
      { host: "127.0.0.1", port: ports.fake },
      corpus(443).filter((p) => !p.name.startsWith('"') && p.name !== "browser GET"),
      accepted,
      { realName: "apache2", normalise: normaliseTls }
    )
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("answers the http corpus inside TLS as Apache does", async () => {
    const out: Array<string> = []
    const ok = new Set(accepted.map((a) => a.probe))
    for (const p of corpus(443).filter((p) => p.name.startsWith('"') || p.name === "browser GET")) {
      const [a, b] = await Promise.all([tlsProbe(ports.real, p.bytes), tlsProbe(ports.fake, p.bytes)])
      const [ra, rb] = [normalise(a.reply), normalise(b.reply)]
      if ((ra === rb && a.ending === b.ending) || ok.has(`tls ${p.name}`)) continue
      out.push(
        `tls ${p.name}\n  apache2: ${JSON.stringify(ra.slice(0, 240))} (${a.ending})\n  emulator: ${JSON.stringify(rb.slice(0, 240))} (${b.ending})`
      )
    }
    expect(out, out.join("\n")).toEqual([])
  }, 120_000)

  it("accepts the same TLS versions, cipher suites and ALPN protocols", async () => {
    const cases: Array<[string, tls.ConnectionOptions]> = [
      ...(["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const).map((v): [string, tls.ConnectionOptions] => [
        v,
        { minVersion: v, maxVersion: v, ciphers: "ALL:@SECLEVEL=0" }
      ]),
      ...tls12Suites().map((c): [string, tls.ConnectionOptions] => [
        c,
        { maxVersion: "TLSv1.2", ciphers: `${c}:@SECLEVEL=0` }
      ]),
      ...TLS13.map((c): [string, tls.ConnectionOptions] => [c, { minVersion: "TLSv1.3", ciphers: c }]),
      ["alpn h2", { ALPNProtocols: ["h2", "http/1.1"] }],
      ["alpn http/1.1", { ALPNProtocols: ["http/1.1"] }],
      ["alpn spdy/3", { ALPNProtocols: ["spdy/3"] }]
    ]
    const out: Array<string> = []
    for (const [name, options] of cases) {
      const [a, b] = await Promise.all([handshake(ports.real, options), handshake(ports.fake, options)])
      if (a !== b) out.push(`${name}: apache2 ${a}, emulator ${b}`)
    }
    expect(cases.length).toBeGreaterThan(40)
    expect(out, out.join("\n")).toEqual([])
  }, 120_000)

  it("offers mod_ssl's whole TLS surface: whose order, groups, DHE, what is left for resumption", async () => {
    const [a, b] = await Promise.all([scanTls("127.0.0.1", ports.real), scanTls("127.0.0.1", ports.fake)])
    console.log(`apache2 mod_ssl:\n  ${describeSurface(a).join("\n  ")}`)
    const found = surfaceDifferences(a, b, accepted, "apache2")
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)
})
