/**
 * https honeypot (spec/honeypots.md §4): the http persona over TLS on 443, HTTP/1.1 and HTTP/2 by
 * ALPN. The certificate is the decky's self-signed one (CN = tls_cn or the hostname) or the
 * operator's PEM pair. http/3 is accepted in config for compatibility but not served (no QUIC).
 */
import * as http2 from "node:http2"
import { Effect, Schema } from "effect"
import {
  choosePersona,
  HttpVersion,
  handOff,
  MAX_HEADER_BYTES,
  makeRequestHandler,
  PeerRegistry,
  webConfigFields
} from "../http/App.js"
import {
  defineHoneypot,
  HoneypotContext,
  HoneypotListenError,
  serveTcp,
  tlsMaterial
} from "../runtime/index.js"

export const HttpsConfig = Schema.Struct({
  ...webConfigFields,
  tls_cn: Schema.optional(Schema.String),
  tls_cert: Schema.optional(Schema.String),
  tls_key: Schema.optional(Schema.String),
  http_versions: Schema.optionalWith(Schema.Array(HttpVersion), {
    default: () => ["http/1.1" as const, "http/2" as const]
  })
})
export type HttpsConfig = typeof HttpsConfig.Type

export const httpsHoneypot = defineHoneypot({
  slug: "https",
  description: "HTTPS web server persona (TLS, h1 + h2 by ALPN), same app as http",
  ports: { tcp: [443], udp: [] },
  config: HttpsConfig,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const runtime = yield* Effect.runtime<never>()
      const config = options.config
      const port = options.port(443)
      const material = yield* tlsMaterial({
        commonName: config.tls_cn ?? ctx.hostname,
        cert: config.tls_cert,
        key: config.tls_key,
        scope: ctx.decky
      }).pipe(
        Effect.mapError(
          (e) => new HoneypotListenError({ service: "https", host: options.host, port, message: e.reason })
        )
      )
      const persona = choosePersona(ctx, config, "https", 443)
      const alpn = [
        ...(config.http_versions.includes("http/2") ? ["h2"] : []),
        ...(config.http_versions.includes("http/1.1") || !config.http_versions.includes("http/2")
          ? ["http/1.1"]
          : [])
      ]
      const peers = new PeerRegistry()
      const server = http2.createSecureServer(
        {
          cert: material.cert,
          key: material.key,
          allowHTTP1: alpn.includes("http/1.1"),
          ALPNProtocols: alpn,
          maxSessionMemory: 4,
          maxHeaderListPairs: 128,
          maxSendHeaderBlockLength: MAX_HEADER_BYTES,
          handshakeTimeout: 15_000
        },
        makeRequestHandler(ctx, runtime, config, persona, peers)
      )
      server.on("tlsClientError", () => {})
      server.on("sessionError", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
      const listener = yield* serveTcp({
        service: "https",
        host: options.host,
        port,
        defaultPort: 443,
        handler: (conn) => handOff(conn, server, peers)
      })
      return [listener]
    })
})
