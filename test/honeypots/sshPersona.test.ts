// The ssh emulator as the OpenSSH release it claims: KEXINIT lists per persona, host keys kept per decky,
// sshd's answers to bad identification lines, pam_unix's failure delay, MaxAuthTries. The byte-for-byte
// comparison with the real sshd is test/fidelity/ssh.test.ts.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import ssh2 from "ssh2"
import { sshHoneypot } from "../../src/honeypots/ssh/index.js"
import { DEBIAN_12, UBUNTU_22_04 } from "../../src/honeypots/ssh/Persona.js"
import { identificationReply } from "../../src/honeypots/ssh/Transport.js"
import { probe } from "../fidelity/probe.js"
import { eventsOf, run, TestLayer, waitForEvents } from "./support.js"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-ssh-persona-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const start = (config: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const [listener] = yield* sshHoneypot.start({ host: "127.0.0.1", port: () => 0, config })
    return listener!.port
  })

/** The server's KEXINIT name-lists (kex, host key, cipher, MAC, compression) after our identification. */
const kexLists = (port: number) =>
  Effect.promise(async () => {
    const o = await probe("127.0.0.1", port, Buffer.from("SSH-2.0-OpenSSH_9.2p1\r\n"))
    const b = o.reply
    const start = b.indexOf("\n") + 1
    const payload = b.subarray(start + 5)
    let p = 17
    const lists: Array<string> = []
    for (let i = 0; i < 10; i++) {
      const n = payload.readUInt32BE(p)
      lists.push(payload.subarray(p + 4, p + 4 + n).toString("latin1"))
      p += 4 + n
    }
    return { banner: b.subarray(0, start).toString("latin1"), lists }
  })

const keyscan = (port: number) =>
  run("ssh-keyscan", ["-p", String(port), "-t", "rsa,ecdsa,ed25519", "127.0.0.1"]).pipe(
    Effect.map((r) =>
      r.stdout
        .split("\n")
        .filter((l) => l.startsWith("[127.0.0.1]"))
        .map((l) => l.replace(/^\S+ /, ""))
        .sort()
    )
  )

describe("ssh personas", () => {
  it.live("each persona sends its release's KEXINIT: Debian 9.2p1 and Ubuntu 8.9p1", () =>
    Effect.gen(function* () {
      const debian = yield* kexLists(yield* start({ version: DEBIAN_12.version }))
      expect(debian.banner).toBe("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n")
      expect(debian.lists[0]).toBe(
        "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org," +
          "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256," +
          "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256," +
          "kex-strict-s-v00@openssh.com"
      )
      const ubuntu = yield* kexLists(yield* start())
      expect(ubuntu.banner).toBe("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.4\r\n")
      // 8.9's myproposal.h: sntrup761 after the ECDH methods; 3ubuntu0.4 predates the strict-KEX fix
      expect(ubuntu.lists[0]).toBe(
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," +
          "sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512," +
          "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
      )
      for (const { lists } of [debian, ubuntu]) {
        expect(lists[1]).toBe("rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519")
        expect(lists[4]).toBe(UBUNTU_22_04.algorithms.hmac.join(","))
        expect(lists[4]).toMatch(/^umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm/)
        expect(lists[6]).toBe("none,zlib@openssh.com")
      }
    }).pipe(Effect.provide(TestLayer({ artifactsDir: path.join(root, "lists") })), Effect.scoped)
  )

  it.live(
    "a real OpenSSH client logs in over sntrup761x25519 (the 9.2 client's first choice), group exchange and UMAC",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ version: DEBIAN_12.version })
        for (const kex of [
          "sntrup761x25519-sha512",
          "sntrup761x25519-sha512@openssh.com",
          "diffie-hellman-group-exchange-sha256"
        ]) {
          const r = yield* run("sshpass", [
            "-p",
            "admin",
            "ssh",
            ...[
              "StrictHostKeyChecking=no",
              "UserKnownHostsFile=/dev/null",
              "PubkeyAuthentication=no"
            ].flatMap((o) => ["-o", o]),
            "-o",
            `KexAlgorithms=${kex}`,
            "-v",
            "-p",
            String(port),
            "root@127.0.0.1",
            "echo logged-in"
          ])
          expect(r.stderr).toContain(`kex: algorithm: ${kex}`)
          expect(r.stdout).toContain("logged-in")
        }
        // The umac MACs OpenSSH lists (taken with a CTR cipher); the reply spans packets over 1 KiB.
        for (const mac of [
          "umac-64-etm@openssh.com",
          "umac-128-etm@openssh.com",
          "umac-64@openssh.com",
          "umac-128@openssh.com"
        ]) {
          const r = yield* run("sshpass", [
            "-p",
            "admin",
            "ssh",
            ...[
              "StrictHostKeyChecking=no",
              "UserKnownHostsFile=/dev/null",
              "PubkeyAuthentication=no"
            ].flatMap((o) => ["-o", o]),
            "-c",
            "aes128-ctr",
            "-m",
            mac,
            "-v",
            "-p",
            String(port),
            "root@127.0.0.1",
            "cat /proc/cpuinfo /proc/cpuinfo; echo logged-in"
          ])
          expect(r.stderr).toContain(`server->client cipher: aes128-ctr MAC: ${mac}`)
          expect(r.stdout).toContain("logged-in")
          expect(r.stdout.length).toBeGreaterThan(2048)
        }
      }).pipe(Effect.provide(TestLayer({ artifactsDir: path.join(root, "kex") })), Effect.scoped)
  )

  it.live(
    "host keys: RSA-3072, ECDSA P-256 and Ed25519, generated once per decky, kept across restarts and changes",
    () =>
      Effect.gen(function* () {
        const dir = path.join(root, "keys")
        const first = yield* Effect.scoped(
          Effect.flatMap(start(), keyscan).pipe(Effect.provide(TestLayer({ artifactsDir: dir })))
        )
        expect(first.map((l) => l.split(" ")[0])).toEqual(["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"])
        const keysDir = path.join(dir, "ssh", "host_keys")
        for (const f of ["ssh_host_rsa_key", "ssh_host_ecdsa_key", "ssh_host_ed25519_key"])
          expect(fs.statSync(path.join(keysDir, f)).mode & 0o777).toBe(0o600)
        const rsa = first.find((l) => l.startsWith("ssh-rsa "))!
        fs.writeFileSync(path.join(root, "rsa.pub"), `${rsa}\n`)
        const bits = yield* run("ssh-keygen", ["-l", "-f", path.join(root, "rsa.pub")])
        expect(bits.stdout).toMatch(/^3072 SHA256:/)
        // A new process for the same decky (a restart), then a mutation to the other persona: same keys.
        const again = yield* Effect.scoped(
          Effect.flatMap(start(), keyscan).pipe(Effect.provide(TestLayer({ artifactsDir: dir })))
        )
        expect(again).toEqual(first)
        const mutated = yield* Effect.scoped(
          Effect.flatMap(start({ version: DEBIAN_12.version }), keyscan).pipe(
            Effect.provide(TestLayer({ artifactsDir: dir }))
          )
        )
        expect(mutated).toEqual(first)
        // Another decky's folder: other keys.
        const other = yield* Effect.scoped(
          Effect.flatMap(start(), keyscan).pipe(
            Effect.provide(TestLayer({ artifactsDir: path.join(root, "other") }))
          )
        )
        expect(other).not.toEqual(first)
      })
  )

  it("answers identification lines as sshd's kex_exchange_identification does", () => {
    expect(identificationReply("SSH-2.0-OpenSSH_9.2p1")).toBeUndefined()
    expect(identificationReply("SSH-1.99-x")).toBeUndefined()
    expect(identificationReply("SSH- 2. 0-x y")).toBeUndefined()
    expect(identificationReply("SSH-1.5-x")).toBe("Protocol major versions differ.")
    expect(identificationReply("SSH-3.0-x")).toBe("Protocol major versions differ.")
    expect(identificationReply("SSH-2.0-")).toBe("Invalid SSH identification string.")
    expect(identificationReply("SSH-")).toBe("Invalid SSH identification string.")
    expect(identificationReply("GET / HTTP/1.0")).toBe("Invalid SSH identification string.")
    expect(identificationReply("")).toBe("Invalid SSH identification string.")
  })

  it.live("a bad identification line gets sshd's one-line answer, then the connection closes", () =>
    Effect.gen(function* () {
      const port = yield* start()
      const banner = "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.4\r\n"
      for (const [sent, answer] of [
        ["GET / HTTP/1.0\r\n", "Invalid SSH identification string.\r\n"],
        ["\r\n", "Invalid SSH identification string.\r\n"],
        ["SSH-2.0-a\u0000b\r\n", "Invalid SSH identification string.\r\n"],
        ["SSH-1.5-old\r\n", "Protocol major versions differ.\r\n"],
        [`${"x".repeat(9000)}\n`, "Invalid SSH identification string.\r\n"]
      ] as const) {
        const o = yield* Effect.promise(() => probe("127.0.0.1", port, Buffer.from(sent, "latin1")))
        expect(o.reply.toString("latin1")).toBe(banner + answer)
        expect(o.ending).not.toBe("open")
      }
    }).pipe(Effect.provide(TestLayer({ artifactsDir: path.join(root, "ident") })), Effect.scoped)
  )

  it.live("a refused password is held for pam_unix's delay (a sleep), an accepted one is not", () =>
    Effect.gen(function* () {
      // One minute of delay: the refusal must not have arrived 1.5 s later, though the try is logged.
      const port = yield* start({ auth_failure_delay_ms: [60_000, 60_000] })
      const outcome = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const c = new ssh2.Client()
            const timer = setTimeout(() => {
              c.end()
              resolve("pending")
            }, 1500)
            c.on("ready", () => {
              clearTimeout(timer)
              c.end()
              resolve("ready")
            })
            c.on("error", (e) => {
              clearTimeout(timer)
              resolve(`error: ${e.message}`)
            })
            c.connect({ host: "127.0.0.1", port, username: "root", password: "wrong", tryKeyboard: false })
          })
      )
      expect(outcome).toBe("pending")
      yield* waitForEvents((es) => es.some((e) => e.type === "auth_attempt"))
      const r = yield* run("sshpass", [
        "-p",
        "admin",
        "ssh",
        ...["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "PubkeyAuthentication=no"].flatMap(
          (o) => ["-o", o]
        ),
        "-p",
        String(port),
        "root@127.0.0.1",
        "echo in"
      ])
      expect(r.stdout).toContain("in")
    }).pipe(Effect.provide(TestLayer({ artifactsDir: path.join(root, "delay") })), Effect.scoped)
  )

  it.live(
    "MaxAuthTries: the 6th failed try ends the connection with 'Too many authentication failures'",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ auth_failure_delay_ms: [0, 0] })
        const keys: Array<string> = []
        for (let i = 0; i < 8; i++) {
          const f = path.join(root, `id_${i}`)
          yield* run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", f])
          keys.push("-i", f)
        }
        const r = yield* run("ssh", [
          "-F",
          "/dev/null",
          ...keys,
          ...[
            "IdentitiesOnly=yes",
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null"
          ].flatMap((o) => ["-o", o]),
          "-p",
          String(port),
          "root@127.0.0.1",
          "true"
        ])
        expect(r.code).toBe(255)
        expect(r.stderr).toMatch(
          /Received disconnect from 127\.0\.0\.1 port \d+:2: Too many authentication failures/
        )
        const tries = yield* eventsOf("auth_attempt")
        expect(tries).toHaveLength(6)
      }).pipe(Effect.provide(TestLayer({ artifactsDir: path.join(root, "maxauth") })), Effect.scoped)
  )
})
