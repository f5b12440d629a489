/**
 * ssh uploads stream to the quarantine: memory held is the write-behind only, a file over the cap is
 * reported as it is cut, and a connection that goes mid-upload (or is cut by the runtime) gives back
 * everything it held and interrupts what it started.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MAX_UPLOAD_BYTES, UPLOAD_HIGH_WATER_BYTES } from "../../src/honeypots/ssh/Capture.js"
import {
  CLIENT_OPTIONS,
  eventually,
  exec,
  floodWrites,
  openForWrite,
  readBytes,
  sftp,
  shell,
  sshClient,
  startSsh
} from "./sshClient.js"
import { events, run, TestLayer, waitForEvents } from "./support.js"

const MiB = 1024 * 1024
const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-ssh-uploads-"))
const local = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-ssh-uploads-src-"))
afterAll(() => {
  fs.rmSync(artifacts, { recursive: true, force: true })
  fs.rmSync(local, { recursive: true, force: true })
})

/** A file of `bytes` pseudo-random bytes (1 MiB of randomness, varied per MiB); its sha256. */
const makeFile = (name: string, bytes: number): { file: string; sha256: string } => {
  const file = path.join(local, name)
  const block = randomBytes(MiB)
  const hash = createHash("sha256")
  const fd = fs.openSync(file, "w")
  for (let off = 0; off < bytes; off += MiB) {
    block[0] = (off / MiB) & 0xff
    const part = block.subarray(0, Math.min(MiB, bytes - off))
    fs.writeSync(fd, part)
    hash.update(part)
  }
  fs.closeSync(fd)
  return { file, sha256: hash.digest("hex") }
}

const incomingDir = path.join(artifacts, "ssh", "captured", ".incoming")
const incoming = () => (fs.existsSync(incomingDir) ? fs.readdirSync(incomingDir) : [])

const scpO = (port: number, file: string, target: string) =>
  run(
    "sshpass",
    ["-p", "admin", "scp", "-O", ...CLIENT_OPTIONS, "-P", String(port), file, `root@127.0.0.1:${target}`],
    { timeoutMs: 120_000 }
  )

const sftpPut = (port: number, file: string, target: string) =>
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
    { input: `put ${file} ${target}\n`, timeoutMs: 120_000 }
  )

/** Start an scp sink on `client` and send a header for `size` bytes plus `sent` of them; leave it open. */
const stalledScp = (client: Parameters<typeof exec>[0], target: string, size: number, sent: number) =>
  Effect.gen(function* () {
    const stream = yield* exec(client, `scp -t ${target}`)
    yield* readBytes(stream, 1)
    stream.write(`C0644 ${size} ${path.posix.basename(target)}\n`)
    yield* readBytes(stream, 1)
    const chunk = Buffer.alloc(64 * 1024, 0x42)
    for (let n = 0; n < sent; n += chunk.length) stream.write(chunk)
    return stream
  })

/** Bytes the quarantine's temporary files hold right now. */
const incomingBytes = () =>
  incoming().reduce((sum, f) => sum + fs.statSync(path.join(incomingDir, f)).size, 0)

describe("ssh uploads stream to the quarantine", () => {
  it.live(
    "scp -O of 61 MiB: cut at the cap with file_skipped too_large; write-behind stays bounded",
    () =>
      Effect.gen(function* () {
        const { port, budget } = yield* startSsh()
        const big = makeFile("big61.bin", 61 * MiB)
        const r = yield* scpO(port, big.file, "/tmp/big61.bin")
        expect(r.code).not.toBe(0)
        const es = yield* waitForEvents((es) => es.some((e) => e.type === "file_skipped"))
        const skipped = es.filter((e) => e.type === "file_skipped")
        expect(skipped).toHaveLength(1)
        expect(skipped[0]!.fields).toMatchObject({
          orig_path: "/tmp/big61.bin",
          reason: "too_large",
          ssh_user: "root"
        })
        const size = Number(skipped[0]!.fields.size)
        expect(size).toBeGreaterThan(MAX_UPLOAD_BYTES)
        expect(size).toBeLessThanOrEqual(61 * MiB)
        expect(es.some((e) => e.type === "file_captured")).toBe(false)
        // What the upload held in memory never went past one high-water mark plus the chunk that crossed it.
        expect(budget.peak).toBeGreaterThan(0)
        expect(budget.peak).toBeLessThanOrEqual(UPLOAD_HIGH_WATER_BYTES + 64 * 1024)
        expect(
          yield* eventually(
            () => budget.held,
            (h) => h === 0
          )
        ).toBe(0)
        expect(yield* eventually(incoming, (f) => f.length === 0)).toEqual([])
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })), Effect.scoped),
    120_000
  )

  it.live(
    "two 45 MiB uploads in parallel with upload_buffer_mb 64 are both captured (scp -O and SFTP)",
    () =>
      Effect.gen(function* () {
        const { port, budget } = yield* startSsh({ upload_buffer_mb: 64 })
        const a = makeFile("a45.bin", 45 * MiB)
        const b = makeFile("b45.bin", 45 * MiB)
        const [ra, rb] = yield* Effect.all(
          [scpO(port, a.file, "/tmp/a45.bin"), sftpPut(port, b.file, "/tmp/b45.bin")],
          {
            concurrency: 2
          }
        )
        expect(ra.code).toBe(0)
        expect(rb.code).toBe(0)
        const es = yield* waitForEvents((es) => es.filter((e) => e.type === "file_captured").length === 2)
        const captured = new Map(
          es.filter((e) => e.type === "file_captured").map((e) => [e.fields.orig_path, e.fields])
        )
        expect(captured.get("/tmp/a45.bin")).toMatchObject({ sha256: a.sha256, size: String(45 * MiB) })
        expect(captured.get("/tmp/b45.bin")).toMatchObject({ sha256: b.sha256, size: String(45 * MiB) })
        for (const f of captured.values()) {
          const stored = path.join(artifacts, "ssh", "captured", f.stored_as!)
          expect(fs.statSync(stored).size).toBe(45 * MiB)
          fs.rmSync(stored)
        }
        expect(es.some((e) => e.type === "file_skipped")).toBe(false)
        // 90 MiB went through a 64 MiB budget: only the write-behind was ever held.
        expect(budget.peak).toBeLessThanOrEqual(8 * MiB)
        expect(
          yield* eventually(
            () => budget.held,
            (h) => h === 0
          )
        ).toBe(0)
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })), Effect.scoped),
    120_000
  )

  it.live("a client that disconnects mid-upload (scp and SFTP): nothing stored, everything given back", () =>
    Effect.gen(function* () {
      const { port, budget } = yield* startSsh()
      const client = yield* sshClient(port)
      yield* stalledScp(client, "/tmp/cut-scp.bin", 10 * MiB, 4 * MiB)
      const s = yield* sftp(client)
      const handle = yield* openForWrite(s, "/tmp/cut-sftp.bin")
      yield* floodWrites(s, handle, Buffer.alloc(32 * 1024, 0x43), 32)
      // Both uploads have reached the disk before the client goes.
      yield* eventually(incomingBytes, (n) => n >= 4 * MiB + MiB)
      expect(incoming()).toHaveLength(2)
      client.destroy()
      expect(yield* eventually(incoming, (f) => f.length === 0)).toEqual([])
      expect(
        yield* eventually(
          () => budget.held,
          (h) => h === 0
        )
      ).toBe(0)
      const es = yield* events
      expect(es.some((e) => e.type === "file_captured" || e.type === "file_skipped")).toBe(false)
      expect(es.filter((e) => e.type === "command").map((e) => e.fields.cmd)).toEqual([
        "scp -t /tmp/cut-scp.bin",
        "sftp put /tmp/cut-sftp.bin"
      ])
    }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })), Effect.scoped)
  )

  it.live("the runtime's cut (idle client) interrupts the connection's fibers: their finalizers run", () =>
    Effect.gen(function* () {
      const { port, budget } = yield* startSsh()
      const client = yield* sshClient(port)
      const sh = yield* shell(client)
      yield* readBytes(sh, 1)
      sh.write("id\r")
      yield* stalledScp(client, "/tmp/cut-by-server.bin", 10 * MiB, MiB)
      yield* eventually(incomingBytes, (n) => n >= MiB)
      expect(incoming()).toHaveLength(1)
      // The client keeps both channels open and goes quiet; only the runtime's idle deadline ends it.
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "session_recorded"), 200)
      expect(es.find((e) => e.type === "connection_closed")?.fields).toMatchObject({ reason: "idle" })
      // The shell fiber's finalizer saved the recording; the scp fiber's discarded the unfinished upload.
      const rec = es.find((e) => e.type === "session_recorded")!
      expect(fs.readFileSync(rec.fields.path!, "utf8")).toContain('"i","id\\r"')
      expect(yield* eventually(incoming, (f) => f.length === 0)).toEqual([])
      expect(budget.held).toBe(0)
      expect(es.some((e) => e.type === "file_captured" || e.type === "file_skipped")).toBe(false)
    }).pipe(
      Effect.provide(TestLayer({ artifactsDir: artifacts, limits: { idleTimeoutMs: 1_500 } })),
      Effect.scoped
    )
  )
})
