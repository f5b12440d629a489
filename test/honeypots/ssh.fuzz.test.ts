import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import ssh2 from "ssh2"
import { sshHoneypot } from "../../src/honeypots/ssh/index.js"
import { eventsBySrcPort, eventsOf, run, runFuzz, TestLayer } from "./support.js"

const nameList = (names: string) => {
  const b = Buffer.from(names)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(b.length)
  return Buffer.concat([len, b])
}

/** RFC 4253 §6 binary packet (unencrypted, before NEWKEYS). */
const packet = (payload: Buffer) => {
  const pad = 8 - ((payload.length + 5) % 8) + 4
  const head = Buffer.alloc(5)
  head.writeUInt32BE(payload.length + pad + 1)
  head[4] = pad
  return Buffer.concat([head, payload, Buffer.alloc(pad)])
}

/** RFC 4253 §7.1 SSH_MSG_KEXINIT as OpenSSH sends it. */
const KEXINIT = packet(
  Buffer.concat([
    Buffer.from([20]),
    Buffer.alloc(16, 7),
    nameList("curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256"),
    nameList("ssh-ed25519,rsa-sha2-512"),
    nameList("chacha20-poly1305@openssh.com,aes128-ctr"),
    nameList("chacha20-poly1305@openssh.com,aes128-ctr"),
    nameList("hmac-sha2-256"),
    nameList("hmac-sha2-256"),
    nameList("none"),
    nameList("none"),
    nameList(""),
    nameList(""),
    Buffer.from([0, 0, 0, 0, 0])
  ])
)
const IDENTS = [
  "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
  "SSH-2.0-libssh2_1.10.0\r\n",
  "SSH-1.99-PuTTY\r\n",
  "SSH-2.0-Go\n",
  "SSH-1.5-old\r\n",
  "GET / HTTP/1.0\r\n\r\n"
]

const mutate = (base: Buffer) =>
  fc.oneof(
    fc.constant(base),
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
      const b = Buffer.from(base)
      b[i % b.length] = v
      return b
    }),
    fc.nat().map((n) => base.subarray(0, n % (base.length + 1))),
    fc
      .uint8Array({ minLength: 4, maxLength: 4 })
      .map((len) => Buffer.concat([Buffer.from(len), base.subarray(4)])),
    fc.uint8Array({ maxLength: 64 }).map((junk) => Buffer.concat([base, Buffer.from(junk)]))
  )

const fuzzCase = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...IDENTS).chain((i) => mutate(Buffer.from(i))),
        mutate(KEXINIT)
      )
      .map(([a, b]) => Buffer.concat([a, b]))
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.nat(9000).map((n) => Buffer.from(`SSH-2.0-${"x".repeat(n)}\r\n`)) }
)

/** A real ssh2 client that completes key exchange (and optionally auth), then sends `junk` raw. */
const postKex = (port: number, junk: Buffer, stage: "handshake" | "ready") =>
  new Promise<boolean>((resolve) => {
    const sock = net.connect(port, "127.0.0.1")
    const client = new ssh2.Client()
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      client.end()
      sock.destroy()
      resolve(closed)
    }
    const timer = setTimeout(() => finish(false), 15_000)
    client.on("error", () => {})
    if (stage === "handshake") client.on("handshake", () => sock.end(junk))
    else client.on("ready", () => sock.end(junk))
    sock.on("close", () => finish(true))
    client.connect({ sock, username: "root", password: "admin", readyTimeout: 10_000 })
  })

describe("ssh fuzz", () => {
  it.live(
    "20,000 mutated identification/KEXINIT cases + post-kex garbage: no crash, bounded events, still serving",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* sshHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = listener!.port
        const report = yield* runFuzz({
          port,
          arbitrary: fuzzCase,
          cases: 20_000,
          perConnection: 5,
          concurrency: 16
        })
        expect(report.cases).toBe(20_000)
        expect(report.results.every((r) => r.closed)).toBe(true)
        // The server always speaks first: every connection got at least the identification line.
        expect(report.results.every((r) => r.replyBytes > 0)).toBe(true)

        const junk = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 2048 }), { numRuns: 200, seed: 7 })
        const closed = yield* Effect.promise(() =>
          Promise.all(junk.map((j, i) => postKex(port, Buffer.from(j), i % 2 === 0 ? "handshake" : "ready")))
        )
        expect(closed.every((c) => c)).toBe(true)
        // At most one auth_attempt per post-kex connection (its one real login), none from pre-kex noise.
        for (const [, es] of eventsBySrcPort(yield* eventsOf("auth_attempt")))
          expect(es.length).toBeLessThanOrEqual(1)

        const ok = yield* run("sshpass", [
          "-p",
          "admin",
          "ssh",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "PubkeyAuthentication=no",
          "-o",
          "LogLevel=ERROR",
          "-p",
          String(port),
          "root@127.0.0.1",
          "whoami"
        ])
        expect(ok.stdout).toBe("root\n")
      }).pipe(Effect.provide(TestLayer({ limits: { maxConnectionsPerIp: 64 } })), Effect.scoped),
    180_000
  )
})
