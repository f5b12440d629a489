// The TLS profiles (src/honeypots/runtime/TlsProfile.ts): each one becomes a SecureContext a real client can
// handshake with, inside its versions and not outside them, with the order it claims. The full surface of
// each against its real or documented server: test/fidelity/ (tlsScan.ts).
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tls from "node:tls"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { EventSinkMemory, HoneypotContextLive } from "../../../src/honeypots/runtime/index.js"
import { tlsMaterial } from "../../../src/honeypots/runtime/Tls.js"
import {
  profileContextOptions,
  type TlsProfile,
  TlsProfiles
} from "../../../src/honeypots/runtime/TlsProfile.js"

const VERSIONS: ReadonlyArray<tls.SecureVersion> = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
const artifacts = mkdtempSync(join(tmpdir(), "tls-profile-"))
/** The decky's self-signed RSA-2048 pair, as the services get it. */
let pair = { cert: "", key: "" }

beforeAll(async () => {
  pair = await Effect.runPromise(
    tlsMaterial({ commonName: "profile.test" }).pipe(
      Effect.provide(
        HoneypotContextLive({ decky: "p", artifactsDir: artifacts }).pipe(Layer.provide(EventSinkMemory))
      )
    )
  )
})
afterAll(() => rmSync(artifacts, { recursive: true, force: true }))

/** A TLS server on loopback with the profile's context; resolves its port and a closer. */
const serve = (profile: TlsProfile) =>
  new Promise<{ port: number; close: () => void }>((resolve) => {
    // tls.createServer builds its context from the options themselves, as serviceTls does.
    const server = tls.createServer(profileContextOptions(profile, pair), (s) => s.end())
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({
        port: typeof address === "object" && address !== null ? address.port : 0,
        close: () => server.close()
      })
    })
  })

const hello = (port: number, options: tls.ConnectionOptions) =>
  new Promise<string>((resolve) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...options })
    s.once("secureConnect", () => {
      const r = `${s.getProtocol()} ${s.getCipher().name}`
      s.destroy()
      resolve(r)
    })
    s.once("error", () => resolve("refused"))
  })

describe("TlsProfiles", () => {
  for (const [name, profile] of Object.entries(TlsProfiles))
    it(`${name}: handshakes within ${profile.minVersion}–${profile.maxVersion} only, in ${profile.serverOrder ? "its" : "the client's"} order`, async () => {
      const { port, close } = await serve(profile)
      try {
        // Above security level 0, OpenSSL 3 refuses TLS 1.0 and 1.1 whatever minVersion says (their
        // handshake signs with SHA-1): mod_ssl's `all -SSLv3` leaves TLS 1.2 and 1.3, as on Debian.
        const lo = profile.ciphers.includes("@SECLEVEL=0")
          ? VERSIONS.indexOf(profile.minVersion)
          : Math.max(VERSIONS.indexOf(profile.minVersion), VERSIONS.indexOf("TLSv1.2"))
        const hi = VERSIONS.indexOf(profile.maxVersion)
        for (const [i, v] of VERSIONS.entries()) {
          const r = await hello(port, { minVersion: v, maxVersion: v, ciphers: "ALL:@SECLEVEL=0" })
          if (i >= lo && i <= hi) expect(r, `${name} ${v}`).toMatch(new RegExp(`^${v.replace(".", "\\.")} `))
          else expect(r, `${name} ${v}`).toBe("refused")
        }
        // Two suites every TLS 1.2 profile has, offered in both orders: the server's order picks the same one.
        const pairOf = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
        const [a, b] = [
          await hello(port, { maxVersion: "TLSv1.2", ciphers: pairOf.join(":") }),
          await hello(port, { maxVersion: "TLSv1.2", ciphers: [...pairOf].reverse().join(":") })
        ]
        expect(a === b, `${name}: ${a} / ${b}`).toBe(profile.serverOrder)
      } finally {
        close()
      }
    })
})
