import { X509Certificate } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tls from "node:tls"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ERROR_LINGER_MS } from "../../src/honeypots/http/App.js"
import { httpsHoneypot } from "../../src/honeypots/https/index.js"
import {
  curlSettingsProblems,
  expectedJa4h,
  hostileTrickler,
  realTimeUntil,
  sentHeaders,
  sleepScheduledWithin,
  trickledHeaders
} from "./httpCases.js"
import { events, eventsOf, nmapService, nmapServiceXml, run, TestLayer, waitForEvents } from "./support.js"

const start = (config: unknown = {}) =>
  Effect.map(httpsHoneypot.start({ host: "127.0.0.1", config, port: () => 0 }), (ls) => ls[0]!.port)

const peerCert = (port: number) =>
  Effect.promise(
    () =>
      new Promise<{ pem: string; alpn: string | false }>((resolve, reject) => {
        const s = tls.connect(
          { port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["h2", "http/1.1"] },
          () => {
            const raw = s.getPeerCertificate(false).raw
            resolve({
              pem: `-----BEGIN CERTIFICATE-----\n${raw.toString("base64")}\n-----END CERTIFICATE-----\n`,
              alpn: s.alpnProtocol ?? false
            })
            s.destroy()
          }
        )
        s.on("error", reject)
      })
  )

describe("https honeypot", () => {
  it.scopedLive(
    "the certificate is Debian's snakeoil kind, generated once per decky and kept across restarts",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "https-art-"))),
          (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
        )
        const once = () =>
          Effect.scoped(
            Effect.flatMap(httpsHoneypot.start({ host: "127.0.0.1", config: {}, port: () => 0 }), (ls) =>
              peerCert(ls[0]!.port)
            )
          ).pipe(Effect.provide(TestLayer({ artifactsDir: dir })))
        const first = yield* once()
        const second = yield* once()
        expect(second.pem).toBe(first.pem)
        const cert = new X509Certificate(first.pem)
        expect(cert.subject).toBe("CN=decky-01")
        expect(cert.subjectAltName).toBe("DNS:decky-01")
        expect(cert.ca).toBe(false)
        // openssl req -x509: a random 159-bit serial (20 bytes, top bit clear).
      expect(cert.serialNumber.length).toBeLessThanOrEqual(40)
      expect(cert.serialNumber.length).toBeGreaterThan(30)
      })
  )

  it.scopedLive(
    "serves h1 and h2 over TLS with a self-signed CN=tls_cn cert; Basic creds captured, headers are JSON",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ tls_cn: "portal.corp.example" })
        const { pem, alpn } = yield* peerCert(port)
        expect(new X509Certificate(pem).subject).toBe("CN=portal.corp.example")
        expect(alpn).toBe("h2")
        const h1 = yield* run("curl", [
          "-k",
          "-s",
          "-i",
          "--http1.1",
          "-u",
          "root:toor",
          `https://127.0.0.1:${port}/login`
        ])
        expect(h1.stdout).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
        // UseCanonicalName Off: the footer names the Host header's host and port.
        expect(h1.stdout).toContain(`Server at 127.0.0.1 Port ${port}</address>`)
        const h2 = yield* run("curl", [
          "-k",
          "-s",
          "-i",
          "--http2",
          "-H",
          "Authorization: Token abc123",
          `https://127.0.0.1:${port}/v2/`
        ])
        expect(h2.stdout).toMatch(/^HTTP\/2 403\s/)
        const reqs = yield* Effect.flatMap(
          waitForEvents((es) => es.filter((e) => e.type === "request").length >= 2),
          () => eventsOf("request")
        )
        expect(
          reqs.map((e) => [
            e.app,
            e.fields.path,
            e.fields.principal,
            e.fields.secret_printable,
            e.fields.secret_kind,
            e.fields.src_ip
          ])
        ).toEqual([
          ["https", "/login", "root", "toor", "plaintext", "127.0.0.1"],
          ["https", "/v2/", "", "abc123", "http_bearer", "127.0.0.1"]
        ])
        expect(JSON.parse(reqs[1]!.fields.headers!)).toMatchObject({ authorization: "Token abc123" })
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("http_request_fingerprint and http_access carry the ALPN-negotiated protocol (h1 / h2)", () =>
    Effect.gen(function* () {
      const port = yield* start({ custom_body: "<html>portal</html>" })
      const url = `https://127.0.0.1:${port}/portal`
      const cases = [
        {
          args: ["--http1.1", "-b", "JSESSIONID=abc; _ga=GA1.2", "-H", "Accept-Language: pt-BR,pt"],
          h2: false
        },
        { args: ["--http2", "-e", "https://127.0.0.1/", "-H", "X-Forwarded-For: 10.1.2.3"], h2: true }
      ]
      const seen: Array<{ verbose: string; size: number; code: number; h2: boolean }> = []
      for (const c of cases) {
        const r = yield* run("curl", [
          "-k",
          "-s",
          "-v",
          "-o",
          "/dev/null",
          "-w",
          "%{size_download} %{http_code}",
          ...c.args,
          url
        ])
        const [size, code] = r.stdout.split(" ").map(Number)
        seen.push({ verbose: r.stderr, size: size!, code: code!, h2: c.h2 })
      }
      const es = yield* waitForEvents((es) => es.filter((e) => e.type === "http_access").length >= 2)
      const fps = es.filter((e) => e.type === "http_request_fingerprint")
      const access = es.filter((e) => e.type === "http_access")
      for (const [i, c] of seen.entries()) {
        const headers = sentHeaders(c.verbose, c.h2)
        expect(fps[i]!.app).toBe("https")
        expect(fps[i]!.fields).toMatchObject({
          remote_addr: `127.0.0.1:${fps[i]!.fields.src_port}`,
          proto: c.h2 ? "h2" : "h1",
          method: "GET",
          path: "/portal",
          ja4h: expectedJa4h("GET", c.h2 ? "20" : "11", headers)
        })
        expect(access[i]!.fields).toMatchObject({
          proto: c.h2 ? "h2" : "h1",
          status: String(c.code),
          bytes: String(c.size)
        })
      }
      // The h2 connection's SETTINGS are read after TLS; the h1 connection has none.
      const settings = es.filter((e) => e.type === "http2_settings")
      expect(settings.map((e) => [e.app, e.fields.src_port])).toEqual([["https", fps[1]!.fields.src_port]])
      expect(curlSettingsProblems(settings[0]!.fields)).toEqual([])
      expect(seen.map((c) => [c.code, c.size])).toEqual([
        [200, 19],
        [200, 19]
      ])
      expect(fps[0]!.fields.ja4h!.slice(0, 12)).toBe("ge11cn04ptbr")
      expect(fps[1]!.fields.ja4h!.slice(0, 12)).toBe("ge20nr030000")
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("uses a supplied PEM cert/key pair", () =>
    Effect.gen(function* () {
      const gen = yield* Effect.promise(() => import("../../src/honeypots/runtime/Tls.js"))
      const material = yield* gen.tlsMaterial({ commonName: "supplied.example" })
      const port = yield* start({ tls_cert: material.cert, tls_key: material.key, custom_body: "hello" })
      const { pem } = yield* peerCert(port)
      expect(new X509Certificate(pem).subject).toBe("CN=supplied.example")
      const r = yield* run("curl", ["-k", "-s", "-i", `https://127.0.0.1:${port}/`])
      expect(r.stdout).toMatch(/^HTTP\/2 200/)
      expect(r.stdout.endsWith("\r\n\r\nhello")).toBe(true)
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "nmap -sV sees TLS and the persona's web server behind it",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ server_header: "nginx/1.24.0 (Ubuntu)" })
        const xml = yield* nmapServiceXml(port)
        expect(nmapService(xml)).toMatchObject({ name: "http", product: "nginx", version: "1.24.0" })
        expect(xml).toContain('tunnel="ssl"')
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )

  it.scopedLive(
    "after TLS the http limits hold: a trickled header block is answered 408; an h2-only persona closes an HTTP/1.1-only client",
    () =>
      Effect.gen(function* () {
        const port = yield* start()
        const result = yield* trickledHeaders((onOpen) =>
          tls.connect(
            { port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] },
            onOpen
          )
        )
        expect(result).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
        const access = yield* eventsOf("http_access")
        expect(access.map((e) => [e.app, e.fields.status, e.fields.proto])).toEqual([["https", "408", "h1"]])
        // An h2-only persona: an HTTP/1.1-only client gets no HTTP answer; an h2 client is served.
        const h2Only = yield* start({ http_versions: ["http/2"] })
        const url = `https://127.0.0.1:${h2Only}/`
        const h1 = yield* run("curl", ["-k", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http1.1", url])
        expect(h1.code).not.toBe(0)
        expect(h1.stdout).toBe("000")
        const h2 = yield* run("curl", [
          "-k",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version}",
          "--http2",
          url
        ])
        expect(h2.stdout).toBe("2")
      }).pipe(Effect.provide(TestLayer())),
    60_000
  )

  // As http's: TestClock drives the linger; node's header timeout (real timers) is shortened by config.
  it.scoped(
    "after TLS, a client that ignores the 408's close loses its socket and per-IP slot 1 s later",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* httpsHoneypot.start({
          host: "127.0.0.1",
          config: { header_timeout_ms: 1_000 },
          port: () => 0
        })
        const port = listener!.port
        // node's tls.connect hands allowHalfOpen to its TLSSocket; @types/node's ConnectionOptions omits it.
        const options: tls.ConnectionOptions & { readonly allowHalfOpen: boolean } = {
          port,
          host: "127.0.0.1",
          rejectUnauthorized: false,
          ALPNProtocols: ["http/1.1"],
          allowHalfOpen: true
        }
        const socket = tls.connect(options)
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => hostileTrickler(socket, "secureConnect")),
          (c) => Effect.sync(c.stop)
        )
        // The header deadline runs on Effect's Clock: move it on until the 408 comes.
        const answered = () => client.text().includes("\r\n\r\n")
        for (let i = 0; i < 40 && !answered(); i++) {
          yield* TestClock.adjust(250)
          yield* realTimeUntil(answered, 200)
        }
        expect(answered()).toBe(true)
        expect(client.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
        const page = client.text().slice(client.text().indexOf("\r\n\r\n") + 4)
        const localPort = String(socket.localPort)
        expect(yield* sleepScheduledWithin(ERROR_LINGER_MS)).toBe(true)
        yield* TestClock.adjust(ERROR_LINGER_MS - 1)
        yield* realTimeUntil(() => false, 100)
        expect(listener!.stats().open).toBe(1)
        expect(client.closed()).toBe(false)
        yield* TestClock.adjust(1)
        expect(yield* realTimeUntil(() => listener!.stats().open === 0)).toBe(true)
        expect(yield* realTimeUntil(client.closed)).toBe(true)
        expect(listener!.stats().cut).toEqual({
          login_grace: 0,
          session_limit: 0,
          idle: 0,
          write_backlog: 0,
          handshake: 0
        })
        const es = yield* events
        expect(es.map((e) => [e.app, e.type])).toEqual([
          ["https", "startup"],
          ["https", "http_access"]
        ])
        expect(es[1]!.fields).toEqual({
          remote_addr: `127.0.0.1:${localPort}`,
          method: "",
          path: "",
          proto: "h1",
          status: "408",
          bytes: String(Buffer.byteLength(page, "latin1")),
          src_ip: "127.0.0.1",
          src_port: localPort
        })
      }).pipe(Effect.provide(TestLayer()))
  )
})
