// Issue 14 item 5: the runtime's self-signed certificates are persisted per decky under
// `<artifactsDir>/tls/<CN>.{crt,key}`, so a scanner that records fingerprints sees the same one after a
// restart, and never the same one on two deckies. In-process (the runtime's tlsMaterial on fresh
// HoneypotContexts) and end to end (the CLI bundle restarted, the certificate read by real clients:
// node:tls and `openssl s_client -starttls`).
import { spawnSync } from "node:child_process"
import { createPrivateKey, X509Certificate } from "node:crypto"
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as net from "node:net"
import * as tls from "node:tls"
import { afterAll, afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { EventSinkMemory, HoneypotContextLive } from "../../src/honeypots/runtime/index.js"
import { tlsFileStem, tlsMaterial } from "../../src/honeypots/runtime/Tls.js"
import { cleanEnv, decnet, type Proc, stopAll, waitUntil } from "../support/proc.js"
import { spawnAsync } from "../support/spawn.js"

const root = mkdtempSync(join(tmpdir(), "tls-persist-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let dirs = 0
const freshDir = (): string => join(root, `a${dirs++}`)

/** A fresh decky (a new HoneypotContext: an empty memo, as after a restart) on `artifactsDir`. */
const decky = (name: string, artifactsDir: string) =>
  HoneypotContextLive({ decky: name, artifactsDir }).pipe(Layer.provide(EventSinkMemory))

/** Run `effect`, returning its value and the warnings it logged. */
const withWarnings = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message[0] : message))
    })
    const value = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { value, warnings }
  })

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256

describe("Tls persistence (in process)", () => {
  it.effect("stores the pair under <artifactsDir>/tls/<CN>.{crt,key} (key 0600) and reloads it", () =>
    Effect.gen(function* () {
      const dir = freshDir()
      const first = yield* tlsMaterial({ commonName: "mail.corp.local" }).pipe(
        Effect.provide(decky("d1", dir))
      )
      const crt = join(dir, "tls", "mail.corp.local.crt")
      const key = join(dir, "tls", "mail.corp.local.key")
      expect(readFileSync(crt, "utf8")).toBe(first.cert)
      expect(readFileSync(key, "utf8")).toBe(first.key)
      expect(statSync(key).mode & 0o777).toBe(0o600)
      expect(statSync(join(dir, "tls")).mode & 0o777).toBe(0o700)
      // A restart: a new context (empty memo) on the same directory presents the same certificate.
      const again = yield* withWarnings(
        tlsMaterial({ commonName: "mail.corp.local" }).pipe(Effect.provide(decky("d1", dir)))
      )
      expect(again.value).toEqual(first)
      expect(again.warnings).toEqual([])
      // Another decky (its own directory) with the same CN never shares it.
      const other = yield* tlsMaterial({ commonName: "mail.corp.local" }).pipe(
        Effect.provide(decky("d1", freshDir()))
      )
      expect(fingerprint(other.cert)).not.toBe(fingerprint(first.cert))
    })
  )

  it.effect("a CN that is no plain file name is stored under a digest; a non-default lifetime apart", () =>
    Effect.gen(function* () {
      const dir = freshDir()
      const cn = "../etc/passwd mail server"
      expect(tlsFileStem(cn)).toMatch(/^cn-[0-9a-f]{32}$/)
      expect(tlsFileStem("db.local", 365)).toBe("db.local.365d")
      const a = yield* tlsMaterial({ commonName: cn }).pipe(Effect.provide(decky("d2", dir)))
      expect(readFileSync(join(dir, "tls", `${tlsFileStem(cn)}.crt`), "utf8")).toBe(a.cert)
      const b = yield* tlsMaterial({ commonName: cn }).pipe(Effect.provide(decky("d2", dir)))
      expect(b).toEqual(a)
      const short = yield* tlsMaterial({ commonName: "db.local", days: 365 }).pipe(
        Effect.provide(decky("d2", dir))
      )
      const x = new X509Certificate(readFileSync(join(dir, "tls", "db.local.365d.crt"), "utf8"))
      expect(x.fingerprint256).toBe(fingerprint(short.cert))
    })
  )

  it.effect("an unusable stored pair (garbage, a foreign key, another CN) is replaced with a warning", () =>
    Effect.gen(function* () {
      const dir = freshDir()
      const load = (cn: string) =>
        withWarnings(tlsMaterial({ commonName: cn }).pipe(Effect.provide(decky("d3", dir))))
      const good = (yield* load("h.local")).value
      const crt = join(dir, "tls", "h.local.crt")
      const key = join(dir, "tls", "h.local.key")

      writeFileSync(key, "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
      const afterGarbage = yield* load("h.local")
      expect(afterGarbage.warnings.join("\n")).toMatch(/tls: stored certificate .*h\.local\.crt unusable/)
      expect(fingerprint(afterGarbage.value.cert)).not.toBe(fingerprint(good.cert))
      expect(readFileSync(key, "utf8")).toBe(afterGarbage.value.key)
      expect(statSync(key).mode & 0o777).toBe(0o600)

      // The key of another pair: the certificate would not match it, so both are renewed.
      const foreign = (yield* load("other.local")).value
      writeFileSync(key, foreign.key)
      const afterForeign = yield* load("h.local")
      expect(afterForeign.warnings.join("\n")).toMatch(/the key is not the certificate's/)
      expect(
        new X509Certificate(readFileSync(crt, "utf8")).checkPrivateKey(
          createPrivateKey(readFileSync(key, "utf8"))
        )
      ).toBe(true)

      // A pair stored under this CN's name that names another CN (a hand-copied file) is renewed.
      writeFileSync(crt, foreign.cert)
      writeFileSync(key, foreign.key)
      const afterCopy = yield* load("h.local")
      expect(afterCopy.warnings.join("\n")).toMatch(/names CN=other\.local, not CN=h\.local/)
      expect(new X509Certificate(afterCopy.value.cert).subject).toBe("CN=h.local")

      // Once renewed, the next start is quiet and presents the renewed certificate.
      const settled = yield* load("h.local")
      expect(settled.warnings).toEqual([])
      expect(settled.value).toEqual(afterCopy.value)
    })
  )

  it.effect("a directory that cannot be written still yields a certificate (logged, this process only)", () =>
    Effect.gen(function* () {
      const dir = freshDir()
      // The artifacts "directory" is a file: mkdir under it fails even for root.
      writeFileSync(dir, "not a directory")
      const r = yield* withWarnings(
        tlsMaterial({ commonName: "ro.local" }).pipe(Effect.provide(decky("d4", dir)))
      )
      expect(new X509Certificate(r.value.cert).subject).toBe("CN=ro.local")
      expect(r.warnings.join("\n")).toMatch(/tls: could not store .*ro\.local\.crt/)
    })
  )
})

// ---- end to end: the CLI bundle, restarted, seen by real clients ------------------------------------

const HOST = "127.14.13.7"
const onCi = process.env.CI !== undefined && process.env.CI !== ""
const hasOpenssl = spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0
const withOpenssl = hasOpenssl || onCi ? it : it.skip

afterEach(() => stopAll())

interface Running {
  readonly proc: Proc
  /** Bound port by default port. */
  readonly ports: ReadonlyMap<number, number>
}

/** `decnet honeypot <slug>` on HOST, every port free, on `artifactsDir`, until its notice shows. */
const start = async (
  slug: string,
  name: string,
  artifactsDir: string,
  config?: Record<string, unknown>
): Promise<Running> => {
  const portCount: Record<string, number> = { ldap: 2, smtp: 2, imap: 2 }
  const args = ["honeypot", slug, "--host", HOST, "--name", name, "--artifacts-dir", artifactsDir]
  for (let i = 0; i < (portCount[slug] ?? 1); i++) args.push("--port", "0")
  if (config !== undefined) args.push("--config", JSON.stringify(config))
  const proc = decnet(args, cleanEnv({}))
  const notice = await waitUntil(
    () => new RegExp(`^${slug} listening on .*$`, "m").exec(proc.stderr())?.[0],
    20_000
  )
  if (notice === undefined || notice === false)
    throw new Error(`${slug} did not start; stderr: ${proc.stderr()}`)
  const ports = new Map<number, number>()
  for (const m of notice.matchAll(/127\.14\.13\.7:(\d+) \((\d+)\/tcp\)/g))
    ports.set(Number(m[2]), Number(m[1]))
  return { proc, ports }
}

const stop = async (running: Running): Promise<void> => {
  running.proc.signal("SIGTERM")
  await running.proc.exited
}

const port = (running: Running, defaultPort: number): number => {
  const p = running.ports.get(defaultPort)
  if (p === undefined) throw new Error(`no listener for ${defaultPort}/tcp in ${running.proc.stderr()}`)
  return p
}

/** The certificate an implicit-TLS listener presents, read with node:tls. */
const tlsPeer = (p: number): Promise<X509Certificate> =>
  new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port: p, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw
      socket.destroy()
      resolve(new X509Certificate(raw))
    })
    socket.on("error", reject)
    socket.setTimeout(10_000, () => socket.destroy(new Error("TLS handshake timed out")))
  })

/** The certificate `openssl s_client -starttls <proto>` is shown. */
const starttlsPeer = async (p: number, proto: string): Promise<X509Certificate> => {
  const r = await spawnAsync("openssl", ["s_client", "-connect", `${HOST}:${p}`, "-starttls", proto], {
    timeout: 20_000
  })
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0]
  if (pem === undefined)
    throw new Error(`openssl s_client -starttls ${proto}: no certificate\n${r.stdout}${r.stderr}`)
  return new X509Certificate(pem)
}

/** The certificate an RDP listener presents: an X.224 Connection Request offering PROTOCOL_SSL, then TLS. */
const rdpPeer = (p: number): Promise<X509Certificate> =>
  new Promise((resolve, reject) => {
    const raw = net.connect({ host: HOST, port: p }, () =>
      // TPKT (19 bytes) · X.224 CR · RDP_NEG_REQ requestedProtocols = PROTOCOL_SSL (1).
      raw.write(Buffer.from("030000130ee000000000000100080001000000", "hex"))
    )
    raw.setTimeout(10_000, () => raw.destroy(new Error("RDP negotiation timed out")))
    raw.on("error", reject)
    raw.once("data", (cc) => {
      // The Connection Confirm's RDP_NEG_RSP (type 2) must select PROTOCOL_SSL before TLS starts.
      if (cc.length < 19 || cc[11] !== 2 || cc.readUInt32LE(15) !== 1) {
        raw.destroy()
        reject(new Error(`unexpected connection confirm ${cc.toString("hex")}`))
        return
      }
      const socket = tls.connect({ socket: raw, rejectUnauthorized: false }, () => {
        const der = socket.getPeerCertificate().raw
        socket.destroy()
        resolve(new X509Certificate(der))
      })
      socket.on("error", reject)
    })
  })

describe("Tls persistence (the CLI, restarted)", () => {
  it("ldaps presents the same certificate across restarts; another decky its own; a corrupt key is replaced", async () => {
    const dirA = freshDir()
    const first = await start("ldap", "alpha", dirA)
    const fp1 = (await tlsPeer(port(first, 636))).fingerprint256
    await stop(first)
    expect(statSync(join(dirA, "tls", "alpha.key")).mode & 0o777).toBe(0o600)

    const second = await start("ldap", "alpha", dirA)
    const peer2 = await tlsPeer(port(second, 636))
    await stop(second)
    expect(peer2.fingerprint256).toBe(fp1)
    expect(peer2.subject).toBe("CN=alpha")

    // Another decky, and the same name on another artifacts directory: their own certificates.
    const beta = await start("ldap", "beta", freshDir())
    const fpBeta = (await tlsPeer(port(beta, 636))).fingerprint256
    await stop(beta)
    const alphaElsewhere = await start("ldap", "alpha", freshDir())
    const fpElsewhere = (await tlsPeer(port(alphaElsewhere, 636))).fingerprint256
    await stop(alphaElsewhere)
    expect(new Set([fp1, fpBeta, fpElsewhere]).size).toBe(3)

    // A corrupt key: the service still starts, says why on stderr, and presents a new, stored pair.
    writeFileSync(join(dirA, "tls", "alpha.key"), "not a key\n")
    chmodSync(join(dirA, "tls", "alpha.key"), 0o644)
    const third = await start("ldap", "alpha", dirA)
    const fp3 = (await tlsPeer(port(third, 636))).fingerprint256
    await stop(third)
    expect(third.proc.stderr()).toMatch(/tls: stored certificate .*alpha\.crt unusable/)
    expect(fp3).not.toBe(fp1)
    expect(statSync(join(dirA, "tls", "alpha.key")).mode & 0o777).toBe(0o600)
    const fourth = await start("ldap", "alpha", dirA)
    const fp4 = (await tlsPeer(port(fourth, 636))).fingerprint256
    await stop(fourth)
    expect(fp4).toBe(fp3)
    expect(fourth.proc.stderr()).not.toMatch(/unusable/)
  }, 90_000)

  withOpenssl(
    "smtp, imap (STARTTLS and 993), postgres, mysql and rdp keep their certificates across restarts",
    async () => {
      const dir = freshDir()
      const seen = async (): Promise<Record<string, X509Certificate>> => {
        // One after the other: separate processes of one decky that generate the same CN's pair at
        // once would each keep its own until the next restart (a decky's own process shares one memo).
        const smtp = await start("smtp", "gamma", dir)
        const postgres = await start("postgres", "gamma", dir, { ssl: true })
        const mysql = await start("mysql", "gamma", dir, { version: "8.0.35" })
        const imap = await start("imap", "gamma", dir)
        const rdp = await start("rdp", "gamma", dir)
        try {
          return {
            imap: await starttlsPeer(port(imap, 143), "imap"),
            imaps: await tlsPeer(port(imap, 993)),
            rdp: await rdpPeer(port(rdp, 3389)),
            smtp: await starttlsPeer(port(smtp, 25), "smtp"),
            postgres: await starttlsPeer(port(postgres, 5432), "postgres"),
            mysql: await starttlsPeer(port(mysql, 3306), "mysql")
          }
        } finally {
          await Promise.all([stop(smtp), stop(postgres), stop(mysql), stop(imap), stop(rdp)])
        }
      }
      const before = await seen()
      const after = await seen()
      for (const service of ["smtp", "postgres", "mysql", "imap", "imaps", "rdp"])
        expect(after[service]?.fingerprint256, service).toBe(before[service]?.fingerprint256)
      // Postfix and PostgreSQL on one Debian host both serve its snakeoil certificate (CN = hostname);
      // mysqld its own auto-generated one.
      expect(before.smtp?.subject).toBe("CN=gamma")
      expect(before.postgres?.fingerprint256).toBe(before.smtp?.fingerprint256)
      // Dovecot on Debian links its certificate to the same snakeoil pair.
      expect(before.imap?.fingerprint256).toBe(before.smtp?.fingerprint256)
      expect(before.imaps?.fingerprint256).toBe(before.smtp?.fingerprint256)
      expect(before.rdp?.subject).toBe("CN=gamma")
      expect(before.mysql?.subject).toBe("CN=MySQL_Server_8.0.35_Auto_Generated_Server_Certificate")
      expect(
        statSync(join(dir, "tls", "MySQL_Server_8.0.35_Auto_Generated_Server_Certificate.key")).mode & 0o777
      ).toBe(0o600)
    },
    90_000
  )
})
