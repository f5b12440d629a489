/**
 * http honeypot (spec/honeypots.md §3): a web server persona on port 80, Debian's Apache 2.4 by
 * default (issue 14). HTTP/1.x always (our Apache-like engine); with `http/2` in `http_versions`,
 * prior-knowledge h2c connections (RFC 9113 §3.3) are served too (node:http2).
 */
import { Effect, Schema } from "effect"
import { defineHoneypot, HoneypotContext, serveTcp } from "../runtime/index.js"
import {
  ConnectionRegistry,
  choosePersona,
  HttpVersion,
  handOffH2,
  makeH2RequestHandler,
  makeH2Server,
  makeSite,
  serveH1Connection,
  settingsTap,
  type WebStack,
  webConfigFields
} from "./App.js"
import { httpEvents } from "./Events.js"
import { makeDeadlines } from "./H1.js"
import { H2_PREFACE } from "./H2Settings.js"

export const HttpConfig = Schema.Struct({
  ...webConfigFields,
  http_versions: Schema.optionalWith(Schema.Array(HttpVersion), { default: () => ["http/1.1" as const] })
})
export type HttpConfig = typeof HttpConfig.Type

export const httpHoneypot = defineHoneypot({
  slug: "http",
  description: "HTTP web server persona (Apache/nginx default pages, fake apps, credential capture)",
  ports: { tcp: [80], udp: [] },
  config: HttpConfig,
  events: httpEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const runtime = yield* Effect.runtime<never>()
      const config = options.config
      const address = options.address()
      const persona = choosePersona(ctx, config, "http", address.defaultPort)
      const links = new ConnectionRegistry()
      const site = makeSite(ctx, config, persona)
      const h2 = config.http_versions.includes("http/2")
        ? makeH2Server(makeH2RequestHandler(ctx, runtime, config, persona, site, links, httpEvents), links)
        : undefined
      const tap = settingsTap(runtime)
      const deadlines = yield* makeDeadlines
      const stack: WebStack = {
        config,
        persona,
        site,
        hostname: ctx.hostname,
        links,
        h2,
        h1: true,
        tap,
        deadlines
      }
      yield* Effect.addFinalizer(() => Effect.sync(() => h2?.close()))
      const listener = yield* serveTcp({
        ...address,
        events: httpEvents,
        handler: (conn, events) =>
          Effect.gen(function* () {
            if (h2 === undefined) return yield* serveH1Connection(conn, stack, events)
            // Peek enough bytes to tell an h2c preface from an HTTP/1 request line.
            const head = yield* conn.readChunk(H2_PREFACE.length)
            const n = Math.min(head.length, H2_PREFACE.length)
            const isH2 = n >= 4 && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))
            return yield* isH2
              ? handOffH2(conn, h2, links, events, head, tap)
              : serveH1Connection(conn, stack, events, head)
          })
      })
      return [listener]
    })
})
