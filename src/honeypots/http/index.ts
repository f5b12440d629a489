/**
 * http honeypot (spec/honeypots.md §3): a web server persona on port 80. HTTP/1.1 always; with
 * `http/2` in `http_versions`, prior-knowledge h2c connections (RFC 9113 §3.3) are served too.
 */
import { Effect, Schema } from "effect"
import { defineHoneypot, HoneypotContext, serveTcp } from "../runtime/index.js"
import {
  ConnectionRegistry,
  choosePersona,
  HttpVersion,
  handOff,
  makeH1Server,
  makeH2Server,
  makeRequestHandler,
  settingsTap,
  webConfigFields
} from "./App.js"
import { httpEvents } from "./Events.js"
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
      const onRequest = makeRequestHandler(ctx, runtime, config, persona, links, httpEvents)
      const h1 = makeH1Server(persona, config, links, runtime, onRequest)
      const h2 = config.http_versions.includes("http/2") ? makeH2Server(onRequest, links) : undefined
      const tap = settingsTap(runtime)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          h1.closeAllConnections()
          h1.close()
          h2?.close()
        })
      )
      const listener = yield* serveTcp({
        ...address,
        events: httpEvents,
        handler: (conn, events) =>
          Effect.gen(function* () {
            if (h2 === undefined) return yield* handOff(conn, h1, links, events)
            // Peek enough bytes to tell an h2c preface from an HTTP/1 request line.
            const head = yield* conn.readChunk(H2_PREFACE.length)
            const n = Math.min(head.length, H2_PREFACE.length)
            const isH2 = n >= 4 && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))
            return yield* isH2
              ? handOff(conn, h2, links, events, head, tap)
              : handOff(conn, h1, links, events, head)
          })
      })
      return [listener]
    })
})
