/**
 * https honeypot (spec/honeypots.md §4): the http persona over TLS on 443, HTTP/1.1 and HTTP/2 by
 * ALPN. The certificate is the decky's self-signed one (CN = tls_cn or the hostname) or the
 * operator's PEM pair. http/3 is accepted in config for compatibility but not served (no QUIC).
 */
import * as tls from "node:tls"
import { Effect, Schema } from "effect"
import {
  choosePersona,
  HttpVersion,
  handOffTls,
  makeH1Server,
  makeH2Server,
  makeRequestHandler,
  PeerRegistry,
  settingsTap,
  type TlsRoute,
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
      const onRequest = makeRequestHandler(ctx, runtime, config, persona, peers)
      const h1 = alpn.includes("http/1.1") ? makeH1Server(persona, onRequest) : undefined
      const h2 = alpn.includes("h2") ? makeH2Server(onRequest, peers) : undefined
      const route: TlsRoute = {
        secureContext: tls.createSecureContext({ cert: material.cert, key: material.key }),
        alpn,
        handshakeTimeoutMs: 15_000,
        h1,
        h2,
        tap: settingsTap(ctx, runtime, "https")
      }
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          h1?.closeAllConnections()
          h1?.close()
          h2?.close()
        })
      )
      const listener = yield* serveTcp({
        service: "https",
        host: options.host,
        port,
        defaultPort: 443,
        handler: (conn) => handOffTls(conn, route, peers)
      })
      return [listener]
    })
})
