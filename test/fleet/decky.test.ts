// Deckies that share a process share nothing an attacker can observe: two deckies in one process,
// each with its own redis and smtp; what one decky's clients do never shows in the other's answers.
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { planDecky, resolveIdentity, startDecky } from "../../src/fleet/Decky.js"
import { PortPlan } from "../../src/fleet/Ports.js"
import { defaultLimits } from "../../src/honeypots/runtime/index.js"
import { run, TestLayer } from "../honeypots/support.js"

const settings = {
  artifactsRoot: "/tmp/decnet-test-artifacts",
  decky: { nodeName: Option.none(), hostname: Option.none(), instanceId: Option.none() }
}

const decky = (name: string, host: string) =>
  Effect.gen(function* () {
    const plan = yield* planDecky({
      identity: resolveIdentity({ name: Option.some(name) }, settings),
      host,
      slugs: ["redis", "smtp"],
      configs: { redis: { reply_delay_ms: [0, 0] } },
      ports: PortPlan.explicit(new Map(), "ephemeral"),
      limits: defaultLimits
    })
    const running = yield* startDecky(plan)
    const port = (slug: string, known: number) =>
      running.services.find((s) => s.slug === slug)?.listeners.find((l) => l.defaultPort === known)?.port ?? 0
    return { name, host, redis: port("redis", 6379), smtp: port("smtp", 25) }
  })

/** Hold a connection open (a client of the decky) until the scope ends. */
const hold = (host: string, port: number) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(port, host)
          s.once("connect", () => resolve(s))
        })
    ),
    (s) => Effect.sync(() => s.destroy())
  )

const connectedClients = (host: string, port: number) =>
  Effect.map(run("redis-cli", ["-h", host, "-p", String(port), "INFO", "clients"]), (r) =>
    Number(/connected_clients:(\d+)/.exec(r.stdout)?.[1] ?? "-1")
  )

describe("two deckies in one process", () => {
  it.scopedLive("decky B's redis INFO counts only B's clients, whatever A's have open", () =>
    Effect.gen(function* () {
      const a = yield* decky("decky-a", "127.77.0.1")
      const b = yield* decky("decky-b", "127.77.0.2")
      for (let i = 0; i < 3; i++) yield* hold(a.host, a.redis)
      yield* Effect.sleep("100 millis")
      // redis-cli's own connection is the one client B has.
      expect(yield* connectedClients(b.host, b.redis)).toBe(1)
      expect(yield* connectedClients(a.host, a.redis)).toBe(4)
    }).pipe(Effect.provide(TestLayer()))
  )
})
