/**
 * https honeypot (spec/honeypots.md §4): the http persona over TLS on 443, HTTP/1.1 and HTTP/2 by
 * ALPN. The certificate is the decky's self-signed one (CN = tls_cn or the hostname) or the
 * operator's PEM pair. http/3 is accepted in config for compatibility but not served (no QUIC).
 */
import { Effect, Schema } from "effect"
import {
  ConnectionRegistry,
  choosePersona,
  HttpVersion,
  makeH2RequestHandler,
  makeH2Server,
  makeSite,
  serveTls,
  settingsTap,
  type WebStack,
  webConfigFields
} from "../http/App.js"
import {
  defineHoneypot,
  HoneypotContext,
  serveTcp,
  serviceTls,
  TlsConfigFields,
  TlsProfiles
} from "../runtime/index.js"
import { makeDeadlines } from "../http/H1.js"
import { httpsEvents } from "./Events.js"

export const HttpsConfig = Schema.Struct({
  ...webConfigFields,
  ...TlsConfigFields,
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
  events: httpsEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const runtime = yield* Effect.runtime<never>()
      const config = options.config
      const address = options.address()
      // The decky's snakeoil pair (the one smtp, imap, pop3 and postgres serve, as on Debian) or the
      // operator's, with mod_ssl's Debian defaults.
      const { context } = yield* serviceTls({
        service: "https",
        host: address.host,
        port: address.port,
        config,
        profile: TlsProfiles.apache
      })
      const persona = choosePersona(ctx, config, "https", address.defaultPort)
      // mod_http2's `Protocols h2 http/1.1`; without h2 Apache (no mod_http2) answers no ALPN at all.
      const h2Wanted = config.http_versions.includes("http/2")
      const h1Wanted = config.http_versions.includes("http/1.1") || !h2Wanted
      const alpn = h2Wanted ? ["h2", ...(h1Wanted ? ["http/1.1"] : [])] : []
      const links = new ConnectionRegistry()
      const site = makeSite(ctx, config, persona)
      const h2 = alpn.includes("h2")
        ? makeH2Server(makeH2RequestHandler(ctx, runtime, config, persona, site, links, httpsEvents), links)
        : undefined
      const stack: WebStack = {
        config,
        persona,
        site,
        hostname: ctx.hostname,
        links,
        h2,
        h1: h1Wanted,
        tap: settingsTap(runtime),
        deadlines: yield* makeDeadlines
      }
      yield* Effect.addFinalizer(() => Effect.sync(() => h2?.close()))
      const listener = yield* serveTcp({
        ...address,
        events: httpsEvents,
        handler: (conn, events) => serveTls(conn, stack, context, alpn, 15_000, events)
      })
      return [listener]
    })
})
