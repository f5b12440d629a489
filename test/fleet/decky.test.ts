// Deckies that share a process share nothing an attacker can observe: two deckies in one process,
// each with its own redis and smtp; what one decky's clients do never shows in the other's answers.
import { mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { QUEUE_ALPHABET } from "../../src/honeypots/smtp/QueueId.js"
import { planDecky, resolveIdentity, startDecky } from "../../src/fleet/Decky.js"
import { PortPlan } from "../../src/fleet/Ports.js"
import { defaultLimits } from "../../src/honeypots/runtime/index.js"
import { run, TestLayer } from "../honeypots/support.js"

const artifacts = mkdtempSync(join(tmpdir(), "decnet-fleet-"))
afterAll(() => rmSync(artifacts, { recursive: true, force: true }))

const settings = {
  artifactsRoot: artifacts,
  decky: { nodeName: Option.none(), hostname: Option.none(), instanceId: Option.none() }
}

const decky = (name: string, host: string) =>
  Effect.gen(function* () {
    const plan = yield* planDecky({
      identity: resolveIdentity({ name: Option.some(name) }, { ...settings, artifactsRoot: artifacts }),
      host,
      slugs: ["redis", "smtp"],
      configs: { redis: { reply_delay_ms: [0, 0] }, smtp: { open_relay: true } },
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

/** One SMTP delivery; the queue id from `250 2.0.0 Ok: queued as <id>`. */
const queueIdOf = (host: string, port: number) =>
  Effect.promise(
    () =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(port, host)
        let text = ""
        const script = [
          "EHLO client.example.org\r\n",
          "MAIL FROM:<a@example.org>\r\n",
          "RCPT TO:<b@example.net>\r\n",
          "DATA\r\n",
          "Subject: x\r\n\r\nhello\r\n.\r\n",
          "QUIT\r\n"
        ]
        let step = 0
        s.on("data", (d: Buffer) => {
          text += d.toString("latin1")
          const replies = text.split("\r\n").filter((l) => /^\d{3} /.test(l)).length
          while (step < script.length && replies > step) s.write(script[step++] ?? "")
          const id = /queued as (\S+)/.exec(text)?.[1]
          if (id !== undefined) {
            s.destroy()
            resolve(id)
          }
        })
        s.on("error", reject)
        s.on("close", () => reject(new Error(`no queue id in ${JSON.stringify(text)}`)))
      })
  )

/** The per-instance sequence in a queue id: the id (less its suffix) in base 29, modulo 1000. */
const sequenceOf = (id: string): number => {
  let n = 0n
  for (const c of id.slice(0, -1)) n = n * BigInt(QUEUE_ALPHABET.length) + BigInt(QUEUE_ALPHABET.indexOf(c))
  return Number(n % 1000n)
}

describe("two deckies in one process", () => {
  it.scoped("decky B's smtp queue ids do not count decky A's mail", () =>
    Effect.gen(function* () {
      // A frozen clock: the ids then differ only by each instance's own sequence.
      yield* TestClock.setTime(Date.UTC(2026, 11, 2, 12, 0, 0))
      const a = yield* decky("decky-a", "127.77.0.1")
      const b = yield* decky("decky-b", "127.77.0.2")
      const fromA: Array<number> = []
      for (let i = 0; i < 3; i++) fromA.push(sequenceOf(yield* queueIdOf(a.host, a.smtp)))
      const fromB = sequenceOf(yield* queueIdOf(b.host, b.smtp))
      expect(fromA).toEqual([0, 1, 2])
      expect(fromB).toBe(0)
    }).pipe(Effect.provide(TestLayer()))
  )

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

describe("resolveIdentity", () => {
  const env = (nodeName?: string, hostname?: string, instanceId?: string) => ({
    artifactsRoot: "/var/lib/decnet/artifacts/",
    decky: {
      nodeName: Option.fromNullable(nodeName),
      hostname: Option.fromNullable(hostname),
      instanceId: Option.fromNullable(instanceId)
    }
  })

  it("flags win, then NODE_NAME, then HOSTNAME, then 'decky'; artifacts under the root, per name", () => {
    expect(resolveIdentity({ name: Option.some("web-01") }, env("n", "h", "i"))).toEqual({
      name: "web-01",
      hostname: "web-01",
      instanceId: "i",
      artifactsDir: "/var/lib/decnet/artifacts/web-01"
    })
    expect(resolveIdentity({}, env("n", "h")).name).toBe("n")
    expect(resolveIdentity({}, env(undefined, "h")).name).toBe("h")
    expect(resolveIdentity({}, env())).toEqual({
      name: "decky",
      hostname: "decky",
      instanceId: "",
      artifactsDir: "/var/lib/decnet/artifacts/decky"
    })
    expect(
      resolveIdentity(
        {
          hostname: Option.some("mail.corp"),
          instanceId: Option.some("x"),
          artifactsDir: Option.some("/tmp/a")
        },
        env("n")
      )
    ).toEqual({ name: "n", hostname: "mail.corp", instanceId: "x", artifactsDir: "/tmp/a" })
  })
})
