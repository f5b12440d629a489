import { X509Certificate } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tls from "node:tls"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { makeConnection } from "../../src/honeypots/runtime/Connection.js"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { secureContext, tlsMaterial } from "../../src/honeypots/runtime/Tls.js"

/** Where these deckies keep their certificates (never the default /var/lib/decnet/artifacts). */
const artifactsRoot = mkdtempSync(join(tmpdir(), "tls-artifacts-"))
afterAll(() => rmSync(artifactsRoot, { recursive: true, force: true }))

/** A decky of its own: certificates are cached per decky (its HoneypotContext), never per process. */
const decky = (name: string) =>
  HoneypotContextLive({ decky: name, artifactsDir: join(artifactsRoot, name) }).pipe(
    Layer.provide(EventSinkMemory)
  )

const connectionOptions = (id: number) => ({
  id,
  maxLineBytes: 1024,
  maxFrameBytes: 65536,
  writeHighWaterBytes: 65536,
  maxWriteBacklogBytes: 1 << 20,
  now: () => Date.now()
})

describe("Tls", () => {
  it.scoped("self-signs an RSA-2048 certificate with the CN, valid ~3650 days, cached per (decky, CN)", () =>
    Effect.gen(function* () {
      const a = yield* tlsMaterial({ commonName: "mail.corp.local" }).pipe(Effect.provide(decky("decky-01")))
      const layer = yield* Layer.build(decky("decky-02"))
      const b = yield* tlsMaterial({ commonName: "mail.corp.local" }).pipe(Effect.provide(layer))
      const b2 = yield* tlsMaterial({ commonName: "mail.corp.local" }).pipe(Effect.provide(layer))
      const c = yield* tlsMaterial({ commonName: "other.local" }).pipe(Effect.provide(layer))
      // One decky reuses its certificate; another decky (same CN, same process) never shares it.
      expect(b2.cert).toBe(b.cert)
      expect(b.cert).not.toBe(a.cert)
      expect(c.cert).not.toBe(b.cert)
      const x = new X509Certificate(a.cert)
      expect(x.subject).toBe("CN=mail.corp.local")
      expect(x.issuer).toBe("CN=mail.corp.local")
      expect(x.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
      const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86_400_000
      expect(Math.round(days)).toBe(3650)
      expect(
        x.checkPrivateKey((yield* Effect.promise(() => import("node:crypto"))).createPrivateKey(a.key))
      ).toBe(true)
    })
  )

  it.effect("concurrent callers share one generation", () =>
    Effect.gen(function* () {
      const all = yield* Effect.all(
        Array.from({ length: 4 }, () => tlsMaterial({ commonName: "race.local" })),
        { concurrency: "unbounded" }
      )
      expect(new Set(all.map((m) => m.cert)).size).toBe(1)
    }).pipe(Effect.provide(decky("decky-race")))
  )

  it.effect(
    "uses a supplied PEM pair, as text or as file paths, and rejects half a pair or a non-PEM file",
    () =>
      Effect.gen(function* () {
        const gen = yield* tlsMaterial({ commonName: "supplied.local" })
        const inline = yield* tlsMaterial({ commonName: "ignored", cert: gen.cert, key: gen.key })
        expect(inline).toEqual(gen)
        const dir = mkdtempSync(join(artifactsRoot, "pem-"))
        writeFileSync(join(dir, "c.pem"), gen.cert)
        writeFileSync(join(dir, "k.pem"), gen.key)
        writeFileSync(join(dir, "junk"), "hello")
        const fromFiles = yield* tlsMaterial({
          commonName: "x",
          cert: join(dir, "c.pem"),
          key: join(dir, "k.pem")
        })
        expect(fromFiles).toEqual(gen)
        const half = yield* Effect.exit(tlsMaterial({ commonName: "x", cert: gen.cert }))
        expect(Exit.isFailure(half)).toBe(true)
        const junk = yield* Effect.exit(
          tlsMaterial({ commonName: "x", cert: join(dir, "junk"), key: join(dir, "k.pem") })
        )
        expect(Exit.isFailure(junk)).toBe(true)
        const missing = yield* Effect.exit(
          secureContext({ commonName: "x", cert: join(dir, "nope"), key: gen.key })
        )
        expect(Exit.isFailure(missing)).toBe(true)
      }).pipe(Effect.provide(decky("x")))
  )

  it.live("the secure context completes a real TLS handshake", () =>
    Effect.gen(function* () {
      const ctx = yield* secureContext({ commonName: "hs.local" }).pipe(Effect.provide(decky("hs")))
      const server = net.createServer((raw) => {
        const s = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx })
        s.on("data", (d) => s.end(`echo:${d.toString()}`))
        s.on("error", () => {})
      })
      yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", r)))
      const port = (server.address() as net.AddressInfo).port
      const reply = yield* Effect.promise(
        () =>
          new Promise<{ text: string; cn: string }>((resolve, reject) => {
            const c = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => c.write("hi"))
            let text = ""
            c.on("data", (d) => (text += d.toString()))
            c.on("error", reject)
            c.on("end", () => resolve({ text, cn: String(c.getPeerCertificate().subject?.CN) }))
          })
      )
      server.close()
      expect(reply).toEqual({ text: "echo:hi", cn: "hs.local" })
    })
  )

  it.live(
    "Connection.startTls hands bytes already buffered (an early ClientHello) to TLS instead of losing them",
    () =>
      Effect.gen(function* () {
        const ctx = yield* secureContext({ commonName: "early.local" }).pipe(Effect.provide(decky("early")))
        const server = net.createServer((raw) => {
          const conn = makeConnection(raw, connectionOptions(1))
          // Wait until the client's ClientHello sits in the connection's own buffer, then upgrade.
          const waitBuffered = (): Promise<void> =>
            conn.buffered() > 0
              ? Promise.resolve()
              : new Promise((r) => setTimeout(() => r(waitBuffered()), 5))
          void waitBuffered().then(() =>
            Effect.runPromise(
              Effect.gen(function* () {
                yield* conn.startTls(ctx)
                const line = yield* conn.readLine()
                yield* conn.end(`tls:${line}\n`)
              }).pipe(Effect.ignore)
            )
          )
        })
        yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", r)))
        const port = (server.address() as net.AddressInfo).port
        const reply = yield* Effect.promise(
          () =>
            new Promise<string>((resolve) => {
              const c = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () =>
                c.write("hello\n")
              )
              let text = ""
              c.on("data", (d) => (text += d.toString()))
              c.on("error", () => resolve(`error:${text}`))
              c.on("close", () => resolve(text))
              setTimeout(() => {
                c.destroy()
                resolve(`timeout:${text}`)
              }, 3000)
            })
        )
        server.close()
        expect(reply).toBe("tls:hello\n")
      })
  )

  it.live(
    "Connection.startTls never delivers plaintext pipelined after STARTTLS to the app (no command injection)",
    () =>
      Effect.gen(function* () {
        const ctx = yield* secureContext({ commonName: "inject.local" }).pipe(Effect.provide(decky("inject")))
        const seen: Array<string> = []
        const server = net.createServer((raw) => {
          const conn = makeConnection(raw, connectionOptions(2))
          void Effect.runPromise(
            Effect.gen(function* () {
              seen.push(yield* conn.readLine())
              yield* Effect.sleep("50 millis")
              yield* conn.write("220 go ahead\r\n")
              yield* conn.startTls(ctx)
              seen.push(yield* conn.readLine())
            }).pipe(Effect.ignore)
          )
        })
        yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", r)))
        const port = (server.address() as net.AddressInfo).port
        // The attacker pipelines a plaintext command right behind STARTTLS (CVE-2011-0411 style).
        const raw = net.connect(port, "127.0.0.1", () => raw.write("STARTTLS\r\nRSET injected\r\n"))
        yield* Effect.sleep("300 millis")
        raw.destroy()
        yield* Effect.sleep("50 millis")
        server.close()
        expect(seen).toEqual(["STARTTLS"])
      })
  )
})
