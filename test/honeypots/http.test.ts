import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ERROR_LINGER_MS } from "../../src/honeypots/http/App.js"
import { httpHoneypot } from "../../src/honeypots/http/index.js"
import {
  curlSettingsProblems,
  expectedJa4h,
  hostileTrickler,
  realTimeUntil,
  sentHeaders,
  sleepScheduledWithin,
  trickledHeaders
} from "./httpCases.js"
import {
  events,
  eventsOf,
  nmapService,
  nmapServiceXml,
  rawExchange,
  run,
  TestLayer,
  waitForEvents
} from "./support.js"

const start = (config: unknown = {}) =>
  Effect.map(httpHoneypot.start({ host: "127.0.0.1", config, port: () => 0 }), (ls) => ls[0]!.port)

describe("http honeypot", () => {
  it.scopedLive(
    "serves Apache's 403 page as Debian's Apache (the default persona) and logs the request",
    () =>
      Effect.gen(function* () {
        const port = yield* start()
        const r = yield* run("curl", ["-s", "-i", "-A", "probe/1.0", `http://127.0.0.1:${port}/admin?x=1`])
        expect(r.stdout).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
        const server = /\r\nServer: ([^\r]+)\r\n/.exec(r.stdout)?.[1] ?? ""
        expect(server).toBe("Apache/2.4.71 (Debian)")
        // UseCanonicalName Off: the footer names the host and port of the request's Host header.
        expect(r.stdout).toContain(`<address>${server} Server at 127.0.0.1 Port ${port}</address>`)
        expect(r.stdout).toContain("<h1>Forbidden</h1><p>".replace("</h1><p>", "</h1>\n<p>"))
        const es = yield* waitForEvents((es) => es.some((e) => e.type === "request"))
        const req = es.find((e) => e.type === "request")!
        expect(req.app).toBe("http")
        expect(req.fields).toMatchObject({
          method: "GET",
          path: "/admin?x=1",
          src_ip: "127.0.0.1",
          user_agent: "probe/1.0",
          body: ""
        })
        // The peer is the emitter's (src_ip/src_port); request no longer repeats it as remote_addr.
        expect(req.fields.remote_addr).toBeUndefined()
        expect(req.fields.src_port).toMatch(/^\d+$/)
        expect(JSON.parse(req.fields.headers!)).toMatchObject({
          "user-agent": "probe/1.0",
          host: `127.0.0.1:${port}`
        })
        expect(req.fields.secret_b64).toBeUndefined()
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("captures Basic, Bearer and form credentials from curl", () =>
    Effect.gen(function* () {
      const port = yield* start({ fake_app: "wordpress" })
      const basic = yield* run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-u",
        "admin:s3cr\u00e9t!",
        `http://127.0.0.1:${port}/`
      ])
      expect(basic.stdout).toBe("200")
      yield* run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-H",
        "Authorization: Bearer eyJtoken.abc",
        `http://127.0.0.1:${port}/api`
      ])
      yield* run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-d",
        "log=editor&pwd=hunter2&wp-submit=Log+In",
        `http://127.0.0.1:${port}/wp-login.php`
      ])
      const reqs = yield* Effect.flatMap(
        waitForEvents((es) => es.filter((e) => e.type === "request").length >= 3),
        () => eventsOf("request")
      )
      expect(
        reqs.map((e) => [
          e.fields.principal,
          e.fields.secret_printable,
          e.fields.secret_b64,
          e.fields.secret_kind,
          e.fields.src_ip
        ])
      ).toEqual([
        ["admin", "s3cr??t!", Buffer.from("s3cr\u00e9t!").toString("base64"), "plaintext", "127.0.0.1"],
        ["", "eyJtoken.abc", Buffer.from("eyJtoken.abc").toString("base64"), "http_bearer", "127.0.0.1"],
        ["editor", "hunter2", Buffer.from("hunter2").toString("base64"), "plaintext", "127.0.0.1"]
      ])
      expect(reqs[2]!.fields).toMatchObject({
        method: "POST",
        path: "/wp-login.php",
        body: "log=editor&pwd=hunter2&wp-submit=Log+In"
      })
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "h2c prior knowledge and Digest credentials; fake_app pages answer 200 unless response_code is set",
    () =>
      Effect.gen(function* () {
        const port = yield* start({
          http_versions: ["http/1.1", "http/2"],
          fake_app: "phpmyadmin",
          extra_headers: { "X-Powered-By": "PHP/8.1.2" }
        })
        const h2 = yield* run("curl", [
          "-s",
          "-i",
          "--http2-prior-knowledge",
          "-H",
          'Authorization: Digest username="dba", realm="x", nonce="abc", uri="/", response="0123456789abcdef0123456789abcdef"',
          `http://127.0.0.1:${port}/phpmyadmin/`
        ])
        expect(h2.stdout).toMatch(/^HTTP\/2 200 ?\r\n/)
        expect(h2.stdout).toContain("x-powered-by: PHP/8.1.2")
        expect(h2.stdout).toContain("<title>phpMyAdmin</title>")
        const h1 = yield* run("curl", [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `http://127.0.0.1:${port}/`
        ])
        expect(h1.stdout).toBe("200")
        // extra_headers as JSON text, which is what the catalog's textarea and an INI value carry.
        const coded = yield* start({
          fake_app: "tomcat",
          response_code: 404,
          extra_headers: '{"X-Node": "app-2"}'
        })
        const codedReply = yield* run("curl", [
          "-s",
          "-D",
          "-",
          "-o",
          "/dev/null",
          `http://127.0.0.1:${coded}/`
        ])
        expect(codedReply.stdout).toMatch(/^HTTP\/1\.1 404 /)
        expect(codedReply.stdout).toMatch(/\r\nX-Node: app-2\r\n/i)
        const reqs = yield* Effect.flatMap(
          waitForEvents((es) => es.filter((e) => e.type === "request").length >= 3),
          () => eventsOf("request")
        )
        expect(reqs[0]!.fields).toMatchObject({
          path: "/phpmyadmin/",
          principal: "dba",
          secret_printable: "0123456789abcdef0123456789abcdef",
          secret_kind: "http_digest_md5",
          src_ip: "127.0.0.1"
        })
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("http_request_fingerprint (JA4H) and http_access for curl over h1 and h2c", () =>
    Effect.gen(function* () {
      const port = yield* start({ http_versions: ["http/1.1", "http/2"], fake_app: "nginx_default" })
      const url = `http://127.0.0.1:${port}`
      const cases: ReadonlyArray<{ args: ReadonlyArray<string>; path: string; method: string; h2: boolean }> =
        [
          { args: [], path: "/", method: "GET", h2: false },
          {
            args: [
              "-b",
              "sid=9f; a_b=2; lang=en",
              "-e",
              "http://intranet/",
              "-H",
              "Accept-Language: de-DE,de;q=0.9",
              "-H",
              "X-Requested-With: XMLHttpRequest"
            ],
            path: "/admin/?q=1",
            method: "GET",
            h2: false
          },
          { args: ["-I"], path: "/index.php", method: "HEAD", h2: false },
          {
            args: ["-d", "user=a&pass=b", "-H", "accept-language: fr"],
            path: "/login",
            method: "POST",
            h2: false
          },
          {
            args: ["--http2-prior-knowledge", "-b", "z=1; y=2", "-H", "Accept-Language: en-GB"],
            path: "/h2",
            method: "GET",
            h2: true
          }
        ]
      const seen: Array<{
        verbose: string
        size: number
        code: number
        h2: boolean
        method: string
        path: string
      }> = []
      for (const c of cases) {
        const r = yield* run("curl", [
          "-s",
          "-v",
          "-o",
          "/dev/null",
          "-w",
          "%{size_download} %{http_code}",
          ...c.args,
          `${url}${c.path}`
        ])
        const [size, code] = r.stdout.split(" ").map(Number)
        seen.push({ verbose: r.stderr, size: size!, code: code!, h2: c.h2, method: c.method, path: c.path })
      }
      const es = yield* waitForEvents(
        (es) => es.filter((e) => e.type === "http_access").length >= cases.length
      )
      const fps = es.filter((e) => e.type === "http_request_fingerprint")
      const access = es.filter((e) => e.type === "http_access")
      expect(fps.length).toBe(cases.length)
      expect(access.length).toBe(cases.length)
      for (const [i, c] of seen.entries()) {
        const headers = sentHeaders(c.verbose, c.h2)
        expect(headers.length).toBeGreaterThan(1)
        const fp = fps[i]!
        const srcPort = fp.fields.src_port!
        expect(fp.fields).toEqual({
          remote_addr: `127.0.0.1:${srcPort}`,
          proto: c.h2 ? "h2" : "h1",
          method: c.method,
          path: c.path,
          ja4h: expectedJa4h(c.method, c.h2 ? "20" : "11", headers),
          headers_ordered: JSON.stringify([
            ...(c.h2 ? [":method", ":path", ":scheme", ":authority"] : []),
            ...headers.map(([n]) => n.toLowerCase())
          ]),
          cookie: headers
            .filter(([n]) => n.toLowerCase() === "cookie")
            .map(([, v]) => v)
            .join("; "),
          accept_language: headers.find(([n]) => n.toLowerCase() === "accept-language")?.[1] ?? "",
          src_ip: "127.0.0.1",
          src_port: srcPort
        })
        // The access record follows the request and reports what curl actually received.
        expect(access[i]!.fields).toEqual({
          remote_addr: `127.0.0.1:${srcPort}`,
          method: c.method,
          path: c.path,
          proto: c.h2 ? "h2" : "h1",
          status: String(c.code),
          bytes: String(c.size),
          src_ip: "127.0.0.1",
          src_port: srcPort
        })
        expect(es.indexOf(fp)).toBeLessThan(es.indexOf(access[i]!))
      }
      expect(seen.map((c) => c.code)).toEqual([200, 200, 200, 200, 200])
      expect(seen[2]!.size).toBe(0)
      expect(seen[0]!.size).toBeGreaterThan(100)
      // The cookie-bearing request is the one FoxIO calls `c`/`r` with a German primary language.
      expect(fps[1]!.fields.ja4h!.slice(0, 12)).toBe("ge11cr05dede")
      expect(fps[4]!.fields.ja4h!.slice(0, 12)).toBe("ge20cn03engb")
      // One http2_settings, for the h2c connection only, naming the same peer as its request.
      const settings = es.filter((e) => e.type === "http2_settings")
      expect(settings.map((e) => e.fields.src_port)).toEqual([fps[4]!.fields.src_port])
      expect(settings[0]!.fields.remote_addr).toBe(`127.0.0.1:${fps[4]!.fields.src_port}`)
      expect(curlSettingsProblems(settings[0]!.fields)).toEqual([])
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("http2_settings: a hand-built h2c preface is logged exactly, in wire order", () =>
    Effect.gen(function* () {
      const port = yield* start({ http_versions: ["http/1.1", "http/2"] })
      // Chrome's SETTINGS order, a reserved id (0x0a0a: below 0xf000, so UNKNOWN as in the original),
      // then a repeat of INITIAL_WINDOW_SIZE, whose last value wins.
      const pairs: ReadonlyArray<readonly [number, number]> = [
        [0x1, 65_536],
        [0x2, 0],
        [0x4, 6_291_456],
        [0x6, 262_144],
        [0x0a0a, 1],
        [0x4, 6_291_457]
      ]
      const payload = Buffer.alloc(pairs.length * 6)
      pairs.forEach(([id, value], i) => {
        payload.writeUInt16BE(id, i * 6)
        payload.writeUInt32BE(value, i * 6 + 2)
      })
      const head = Buffer.alloc(9)
      head.writeUIntBE(payload.length, 0, 3)
      head[3] = 0x4
      const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")
      // Sent in two writes, split inside the frame header, as a slow client would.
      const sock = net.connect(port, "127.0.0.1")
      yield* Effect.async<void>((resume) => {
        sock.once("connect", () => resume(Effect.void))
      })
      const wire = Buffer.concat([preface, head, payload])
      sock.write(wire.subarray(0, 28))
      yield* Effect.sleep("50 millis")
      sock.write(wire.subarray(28))
      const localPort = sock.localPort
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "http2_settings"))
      sock.destroy()
      const [event] = es.filter((e) => e.type === "http2_settings")
      expect(event!.app).toBe("http")
      expect(event!.fields).toEqual({
        remote_addr: `127.0.0.1:${localPort}`,
        settings:
          '{"ENABLE_PUSH":0,"HEADER_TABLE_SIZE":65536,"INITIAL_WINDOW_SIZE":6291457,"MAX_HEADER_LIST_SIZE":262144,"UNKNOWN":1}',
        frame_order: "[1,2,4,6,2570,4]",
        src_ip: "127.0.0.1",
        src_port: String(localPort)
      })
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "nmap -sV identifies the persona's real server software",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ server_header: "Apache/2.4.57 (Debian)" })
        const xml = yield* nmapServiceXml(port)
        expect(nmapService(xml)).toMatchObject({ name: "http", product: "Apache httpd", version: "2.4.57" })
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )

  it.scopedLive("files: serves files from the configured directory only (no traversal out of it)", () =>
    Effect.gen(function* () {
      const root = mkdtempSync(join(tmpdir(), "http-files-"))
      mkdirSync(join(root, "www"))
      writeFileSync(join(root, "www", "robots.txt"), "User-agent: *\nDisallow: /backup/\n")
      writeFileSync(join(root, "secret.txt"), "outside")
      const port = yield* start({ files: join(root, "www") })
      const ok = yield* run("curl", ["-s", "-i", `http://127.0.0.1:${port}/robots.txt`])
      expect(ok.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(ok.stdout.endsWith("\r\n\r\nUser-agent: *\nDisallow: /backup/\n")).toBe(true)
      for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"]) {
        const r = yield* run("curl", [
          "-s",
          "--path-as-is",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `http://127.0.0.1:${port}${path}`
        ])
        // Apache: a path climbing above / is 400; an encoded slash is 404 (AllowEncodedSlashes Off).
        expect(r.stdout).toBe(path === "/..%2fsecret.txt" ? "404" : "400")
      }
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "slowloris: a header block that never completes is answered 408 and closed",
    () =>
      Effect.gen(function* () {
        const port = yield* start()
        // Trickle one header line every 2 s: the idle timeout never fires, the header deadline does.
        const result = yield* trickledHeaders((onOpen) => net.connect(port, "127.0.0.1", onOpen))
        expect(result).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
        const access = yield* eventsOf("http_access")
        expect(access.map((e) => [e.fields.status, e.fields.method, e.fields.path])).toEqual([
          ["408", "", ""]
        ])
      }).pipe(Effect.provide(TestLayer())),
    60_000
  )

  // TestClock drives the linger. node's header timeout runs on node's own timers, which TestClock
  // cannot reach, so header_timeout_ms shortens it to 1 s of real time instead.
  it.scoped("a client that ignores the 408's close loses its socket and per-IP slot 1 s later", () =>
    Effect.gen(function* () {
      const [listener] = yield* httpHoneypot.start({
        host: "127.0.0.1",
        config: { header_timeout_ms: 1_000 },
        port: () => 0
      })
      const port = listener!.port
      const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true })
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => hostileTrickler(socket, "connect")),
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
      expect(page).toContain("<p>Server timeout waiting for the HTTP request from the client.</p>")
      const localPort = String(socket.localPort)
      // The 408 half-closed the socket; the client keeps its side, and so, for now, its slot.
      expect(yield* sleepScheduledWithin(ERROR_LINGER_MS)).toBe(true)
      yield* TestClock.adjust(ERROR_LINGER_MS - 1)
      yield* realTimeUntil(() => false, 100)
      expect(listener!.stats().open).toBe(1)
      expect(client.closed()).toBe(false)
      yield* TestClock.adjust(1)
      expect(yield* realTimeUntil(() => listener!.stats().open === 0)).toBe(true)
      expect(yield* realTimeUntil(client.closed)).toBe(true)
      // Closed by the persona's linger, not by one of the runtime's deadlines.
      expect(listener!.stats().cut).toEqual({
        login_grace: 0,
        session_limit: 0,
        idle: 0,
        write_backlog: 0,
        handshake: 0
      })
      const es = yield* events
      expect(es.map((e) => e.type)).toEqual(["startup", "http_access"])
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

  it.scopedLive(
    "oversized header line and garbage → Apache's 400 pages, with the persona's Server header",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ server_header: "Apache/2.4.41 (Ubuntu)" })
        const big = yield* rawExchange(
          port,
          `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`
        )
        // Apache has no 431: a field over LimitRequestFieldSize (8190) is a 400 with its note.
        expect(big.text).toMatch(
          /^HTTP\/1\.1 400 Bad Request\r\nDate: [^\r]+ GMT\r\nServer: Apache\/2\.4\.41 \(Ubuntu\)\r\nContent-Length: \d+\r\nConnection: close\r\nContent-Type: text\/html; charset=iso-8859-1\r\n\r\n/
        )
        expect(big.text).toContain("<br />\nSize of a request header field exceeds server limit.</p>")
        const junk = yield* rawExchange(port, "\x16\x03\x01garbage\r\n\r\n")
        expect(junk.text).toMatch(
          /^HTTP\/1\.1 400 Bad Request\r\nDate: [^\r]+\r\nServer: Apache\/2\.4\.41 \(Ubuntu\)\r\n/
        )
        expect(junk.text).toContain("<address>Apache/2.4.41 (Ubuntu) Server at decky-01 Port 80</address>")
        // No request reached the app; each error reply is still an access record, as in Apache's log.
        expect(yield* eventsOf("request")).toEqual([])
        expect(yield* eventsOf("http_request_fingerprint")).toEqual([])
        const access = yield* waitForEvents((es) => es.filter((e) => e.type === "http_access").length >= 2)
        expect(
          access
            .filter((e) => e.type === "http_access")
            .map((e) => [e.fields.status, e.fields.method, e.fields.path, e.fields.proto, e.fields.bytes])
        ).toEqual([
          ["400", "GET", "/", "h1", String(Buffer.byteLength(big.text.split("\r\n\r\n")[1] ?? "", "latin1"))],
          ["400", "", "", "h1", String(Buffer.byteLength(junk.text.split("\r\n\r\n")[1] ?? "", "latin1"))]
        ])
      }).pipe(Effect.provide(TestLayer()))
  )
})
