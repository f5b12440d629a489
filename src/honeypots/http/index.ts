/**
 * http honeypot (spec/honeypots.md §3): a web server persona on port 80. HTTP/1.1 always; with
 * `http/2` in `http_versions`, prior-knowledge h2c connections (RFC 9113 §3.3) are served too.
 */
import * as http from "node:http"
import * as http2 from "node:http2"
import { Effect, Schema } from "effect"
import { defineHoneypot, HoneypotContext, serveTcp } from "../runtime/index.js"
import {
  choosePersona,
  HEADERS_TIMEOUT_MS,
  HttpVersion,
  handOff,
  MAX_HEADER_BYTES,
  makeRequestHandler,
  PeerRegistry,
  webConfigFields
} from "./App.js"

export const HttpConfig = Schema.Struct({
  ...webConfigFields,
  http_versions: Schema.optionalWith(Schema.Array(HttpVersion), { default: () => ["http/1.1" as const] })
})
export type HttpConfig = typeof HttpConfig.Type

/** RFC 9113 §3.4: the client connection preface of prior-knowledge HTTP/2. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")

export const httpHoneypot = defineHoneypot({
  slug: "http",
  description: "HTTP web server persona (Apache/nginx default pages, fake apps, credential capture)",
  ports: { tcp: [80], udp: [] },
  config: HttpConfig,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const runtime = yield* Effect.runtime<never>()
      const config = options.config
      const persona = choosePersona(ctx, config, "http", 80)
      const peers = new PeerRegistry()
      const onRequest = makeRequestHandler(ctx, runtime, config, persona, peers)
      const h1 = http.createServer(
        {
          maxHeaderSize: MAX_HEADER_BYTES,
          headersTimeout: HEADERS_TIMEOUT_MS,
          requestTimeout: 60_000,
          // Sweep every 2 s so a stalled header block is cut within HEADERS_TIMEOUT_MS + 2 s.
          connectionsCheckingInterval: 2_000,
          // Scanners often omit Host; a honeypot wants those requests logged, not 400'd by the parser.
          requireHostHeader: false
        },
        onRequest
      )
      // node only runs its headersTimeout/requestTimeout sweep (the slowloris guard) once the server
      // has emitted `listening`; this server is fed by serveTcp and never listens itself.
      h1.emit("listening")
      h1.on("clientError", (err: NodeJS.ErrnoException, socket) => {
        if (!socket.writable) {
          socket.destroy()
          return
        }
        // The status Apache sends for each failure: mod_reqtimeout 408, oversized headers 431, else 400.
        const status =
          err.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? "408 Request Timeout"
            : err.code === "HPE_HEADER_OVERFLOW"
              ? "431 Request Header Fields Too Large"
              : "400 Bad Request"
        socket.end(
          `HTTP/1.1 ${status}\r\nServer: ${persona.serverHeader}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
        )
      })
      const h2 = config.http_versions.includes("http/2")
        ? http2.createServer({ maxSessionMemory: 4, maxHeaderListPairs: 128 }, onRequest)
        : undefined
      h2?.on("sessionError", () => {})
      if (h2 !== undefined) peers.watch(h2)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          h1.closeAllConnections()
          h1.close()
          h2?.close()
        })
      )
      const listener = yield* serveTcp({
        service: "http",
        host: options.host,
        port: options.port(80),
        defaultPort: 80,
        handler: (conn) =>
          Effect.gen(function* () {
            if (h2 === undefined) return yield* handOff(conn, h1, peers)
            // Peek enough bytes to tell an h2c preface from an HTTP/1 request line.
            const head = yield* conn.readChunk(H2_PREFACE.length)
            const n = Math.min(head.length, H2_PREFACE.length)
            const isH2 = n >= 4 && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))
            return yield* handOff(conn, isH2 ? h2 : h1, peers, head)
          })
      })
      return [listener]
    })
})
