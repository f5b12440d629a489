/**
 * ftp honeypot under abuse: data connections that die before or outlive their control connection,
 * passive listeners that cannot bind, and upload budgets. Real sockets on 127.0.0.1, plus curl.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Option } from "effect"
import { openIncoming, receive } from "../../src/honeypots/ftp/Capture.js"
import { ftpHoneypot } from "../../src/honeypots/ftp/index.js"
import { listenBelowEphemeral } from "../support/ports.js"
import { eventsOf, rawExchange, run, TestLayer, waitForEvents } from "./support.js"

const start = (config: Record<string, unknown> = {}) =>
  Effect.map(
    ftpHoneypot.start({
      host: "127.0.0.1",
      config: { login_mode: "always", banner: "220 (vsFTPd 3.0.3)", ...config },
      port: () => 0
    }),
    (ls) => ls[0]!.port
  )

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A scripted control connection: send lines, wait for reply codes (polling, bounded). */
class Control {
  readonly socket: net.Socket
  text = ""
  closed = false
  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1")
    this.socket.on("data", (d) => {
      this.text += d.toString("latin1")
    })
    this.socket.on("error", () => {})
    this.socket.on("close", () => {
      this.closed = true
    })
  }
  send(line: string) {
    this.socket.write(`${line}\r\n`)
  }
  /** Wait until a reply line matches `re` (searching only replies after `from`); "" on timeout. */
  async waitFor(re: RegExp, from = 0, timeoutMs = 10_000): Promise<string> {
    for (let waited = 0; waited < timeoutMs; waited += 10) {
      const m = this.text
        .slice(from)
        .split("\r\n")
        .find((l) => re.test(l))
      if (m !== undefined) return m
      await sleep(10)
    }
    return ""
  }
  async login() {
    await this.waitFor(/^220 /)
    const at = this.text.length
    this.send("USER a")
    this.send("PASS b")
    await this.waitFor(/^230 /, at)
  }
  /** PASV, then the data port it announced (undefined when refused). */
  async pasv(): Promise<number | undefined> {
    const at = this.text.length
    this.send("PASV")
    const line = await this.waitFor(/^(227|425) /, at)
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(line)
    return m === null ? undefined : Number(m[5]) * 256 + Number(m[6])
  }
}

const connectData = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const d = net.connect(port, "127.0.0.1")
    d.on("error", () => {})
    d.once("connect", () => resolve(d))
    d.once("error", reject)
  })

/** Whether something still accepts on `port` (a leaked passive listener would). */
const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const p = net.connect(port, "127.0.0.1")
    p.on("connect", () => {
      p.destroy()
      resolve(true)
    })
    p.on("error", () => resolve(false))
  })

const incomingOf = (root: string) => {
  const dir = join(root, "ftp", ".incoming")
  return existsSync(dir) ? readdirSync(dir) : []
}
const storedOf = (root: string) => {
  const dir = join(root, "ftp")
  return existsSync(dir) ? readdirSync(dir).filter((f) => f !== ".incoming") : []
}

/**
 * A TCP port on 127.0.0.1 held by someone else for the test's lifetime. It is below the ephemeral
 * range, so once the test frees it no parallel test's connection can be handed the same number.
 */
const occupiedPort = Effect.acquireRelease(
  Effect.promise(() => listenBelowEphemeral()),
  ({ server }) => Effect.sync(() => server.close())
)

describe("ftp passive listener", () => {
  it.scopedLive("PASV/EPSV answer 425 when no passive port can be bound, and the session carries on", () =>
    Effect.gen(function* () {
      const busy = yield* occupiedPort
      const port = yield* start({ pasv_min_port: busy.port, pasv_max_port: busy.port })
      const r = yield* rawExchange(port, "USER a\r\nPASS b\r\nPASV\r\nEPSV\r\nLIST\r\nNOOP\r\nQUIT\r\n", {
        untilIncludes: "221",
        timeoutMs: 10_000
      })
      expect(r.text.split("\r\n").slice(3)).toEqual([
        "425 Can't open passive connection.",
        "425 Can't open passive connection.",
        "425 Use PORT or PASV first.",
        "200 NOOP ok.",
        "221 Goodbye.",
        ""
      ])
      // Once the port is free the configured range is what PASV uses: curl uploads through it.
      yield* Effect.async<void>((resume) => {
        busy.server.close(() => resume(Effect.void))
      })
      const local = mkdtempSync(join(tmpdir(), "ftp-up-"))
      writeFileSync(join(local, "x.bin"), "payload")
      const up = yield* run("curl", [
        "-s",
        "-S",
        "-v",
        "-T",
        join(local, "x.bin"),
        `ftp://a:b@127.0.0.1:${port}/`
      ])
      expect(up.code).toBe(0)
      expect(up.stderr).toContain(`< 229 Entering Extended Passive Mode (|||${busy.port}|)`)
    }).pipe(Effect.provide(TestLayer({ artifactsDir: mkdtempSync(join(tmpdir(), "ftp-art-")) })))
  )

  it.scopedLive("pasv_min_port / pasv_max_port alone are open-ended ranges, as in vsftpd", () =>
    Effect.gen(function* () {
      for (const [config, min, max] of [
        [{ pasv_max_port: 40000 }, 1024, 40000],
        [{ pasv_min_port: 50000 }, 50000, 65535]
      ] as const) {
        const port = yield* start(config)
        const control = new Control(port)
        const data = yield* Effect.promise(async () => {
          await control.login()
          return control.pasv()
        })
        control.socket.destroy()
        expect(data).toBeGreaterThanOrEqual(min)
        expect(data).toBeLessThanOrEqual(max)
      }
    }).pipe(Effect.provide(TestLayer()))
  )

  it.effect("pasv_min_port above pasv_max_port fails the start, naming both", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(start({ pasv_min_port: 2, pasv_max_port: 1 }))
      expect(e._tag).toBe("HoneypotListenError")
      expect(e.message).toContain("pasv_min_port must not exceed pasv_max_port")
    }).pipe(Effect.scoped, Effect.provide(TestLayer()))
  )
})

describe("ftp login and the pre-login grace", () => {
  it.scopedLive("an accepted PASS is a login: the session outlives the grace, a refused one does not", () =>
    Effect.gen(function* () {
      const accepted = new Control(yield* start({ login_mode: "always" }))
      const refused = new Control(yield* start({ login_mode: "never" }))
      const [acceptedNoop, refusedPort] = yield* Effect.promise(async () => {
        await accepted.login()
        await refused.waitFor(/^220 /)
        const port = refused.socket.localPort
        refused.send("USER a")
        refused.send("PASS b")
        // The 530 comes after PAM's ~3 s delay: the grace closes the refused connection first.
        await sleep(1500)
        const from = accepted.text.length
        accepted.send("NOOP")
        return [await accepted.waitFor(/^200 /, from, 3000), port] as const
      })
      expect(acceptedNoop).toBe("200 NOOP ok.")
      expect(refused.closed).toBe(true)
      accepted.socket.destroy()
      const closed = yield* eventsOf("connection_closed")
      expect(closed.map((e) => [e.fields.reason, e.fields.src_port])).toEqual([
        ["login_grace", String(refusedPort)]
      ])
    }).pipe(Effect.provide(TestLayer({ limits: { loginGraceMs: 700 } })))
  )
})

describe("ftp data connection closed before the transfer", () => {
  for (const how of ["fin", "rst"] as const)
    it.scopedLive(`${how}: STOR answers 425 at once; no temp file, no listener and no fiber are left`, () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      return Effect.gen(function* () {
        const port = yield* start()
        const c = new Control(port)
        yield* Effect.promise(async () => {
          await c.login()
          const dport = await c.pasv()
          expect(dport).toBeDefined()
          const d = await connectData(dport!)
          if (how === "rst") d.resetAndDestroy()
          else {
            // Our FIN makes the server close its side too: once we see that, it has seen ours.
            d.end()
            await new Promise((r) => d.once("close", r))
          }
          await sleep(200)
          const at = c.text.length
          c.send("STOR x.bin")
          expect(await c.waitFor(/^\d{3} /, at)).toBe("425 Failed to establish connection.")
          expect(await accepts(dport!)).toBe(false)
          const next = c.text.length
          c.send("NOOP")
          expect(await c.waitFor(/^\d{3} /, next)).toBe("200 NOOP ok.")
          c.send("QUIT")
          await c.waitFor(/^221 /, next)
        })
        yield* waitForEvents((es) => es.some((e) => e.type === "disconnect"))
        expect((yield* eventsOf("disconnect")).length).toBe(1)
        expect(yield* eventsOf("file_captured")).toEqual([])
        expect(incomingOf(artifacts)).toEqual([])
        expect(storedOf(artifacts)).toEqual([])
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    })

  it.scopedLive("bytes sent and FIN'd before STOR are still a complete upload", () => {
    const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
    return Effect.gen(function* () {
      const port = yield* start()
      const c = new Control(port)
      yield* Effect.promise(async () => {
        await c.login()
        const d = await connectData((await c.pasv())!)
        d.end("early bytes")
        await sleep(200)
        const at = c.text.length
        c.send("STOR early.txt")
        expect(await c.waitFor(/^2\d\d |^[45]\d\d /, at)).toBe("226 Transfer complete.")
        c.send("QUIT")
      })
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "file_captured"))
      const cap = es.filter((e) => e.type === "file_captured")
      expect(cap.map((e) => [e.fields.orig_path, e.fields.size, e.fields.complete])).toEqual([
        ["/early.txt", "11", "true"]
      ])
      expect(incomingOf(artifacts)).toEqual([])
    }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
  })
})

/** An accepted server-side socket whose client has already closed (FIN) or reset (RST) it. */
const deadAccepted = (how: "fin" | "rst") =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ server: net.Server; socket: net.Socket }>((resolve) => {
          const server = net.createServer((socket) => {
            socket.on("error", () => {})
            // Wait until the accepted socket has processed the client's FIN / RST.
            const check = () => (socket.destroyed ? resolve({ server, socket }) : setTimeout(check, 5))
            check()
          })
          server.listen(0, "127.0.0.1", () => {
            const addr = server.address()
            const c = net.connect(typeof addr === "object" && addr !== null ? addr.port : 0, "127.0.0.1")
            c.on("error", () => {})
            c.once("connect", () => (how === "rst" ? c.resetAndDestroy() : c.end()))
          })
        })
    ),
    ({ server }) => Effect.sync(() => server.close())
  )

describe("ftp quarantine receive", () => {
  for (const [how, outcome] of [
    ["fin", "complete"],
    ["rst", "aborted"]
  ] as const)
    it.scopedLive(`settles at once on a socket already closed by ${how} (its events fired before)`, () =>
      Effect.gen(function* () {
        const { socket } = yield* deadAccepted(how)
        const incoming = yield* openIncoming(mkdtempSync(join(tmpdir(), "ftp-rx-")))
        const got = yield* receive(socket, incoming, {
          maxBytes: 1024,
          admit: () => undefined,
          onProgress: () => {},
          stop: Effect.never
        }).pipe(Effect.timeoutOption("10 seconds"))
        expect(Option.map(got, (g) => [g.outcome, g.size])).toEqual(Option.some([outcome, 0]))
      })
    )
})

describe("ftp transfers end with their control connection", () => {
  it.scopedLive(
    "closing the control connection stops the upload at once: what arrived is kept, the data socket is closed",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      return Effect.gen(function* () {
        const port = yield* start()
        const c = new Control(port)
        const d = yield* Effect.promise(async () => {
          await c.login()
          const data = await connectData((await c.pasv())!)
          const at = c.text.length
          c.send("STOR up.bin")
          await c.waitFor(/^150 /, at)
          data.write("hello")
          await sleep(100)
          c.socket.destroy()
          return data
        })
        // The server ends the data connection itself; we never close it.
        const dataClosed = yield* Effect.promise(
          () =>
            new Promise<boolean>((resolve) => {
              if (d.destroyed) return resolve(true)
              d.once("close", () => resolve(true))
              setTimeout(() => resolve(false), 10_000)
            })
        )
        expect(dataClosed).toBe(true)
        const es = yield* waitForEvents((es) => es.some((e) => e.type === "disconnect"))
        const cap = es.filter((e) => e.type === "file_captured")
        expect(cap.map((e) => [e.fields.orig_path, e.fields.size, e.fields.complete])).toEqual([
          ["/up.bin", "5", "false"]
        ])
        expect(incomingOf(artifacts)).toEqual([])
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )

  it.scopedLive("uploads cannot outlive the per-IP limit by closing their control connections", () => {
    const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
    return Effect.gen(function* () {
      const port = yield* start()
      const opened = yield* Effect.promise(async () => {
        const datas: Array<net.Socket> = []
        for (let i = 0; i < 6; i++) {
          const c = new Control(port)
          await c.login()
          const d = await connectData((await c.pasv())!)
          const at = c.text.length
          c.send("STOR up.bin")
          if ((await c.waitFor(/^150 /, at)) === "") break
          d.write("hello")
          datas.push(d)
          c.socket.destroy()
          // The next control connection is only admitted because this one's slot is free again.
          await sleep(50)
        }
        return datas
      })
      expect(opened.length).toBe(6)
      const es = yield* waitForEvents((es) => es.filter((e) => e.type === "disconnect").length >= 6)
      expect(es.filter((e) => e.type === "disconnect").length).toBe(6)
      // Every transfer ended with its session: the data sockets are closed by the server.
      yield* Effect.promise(() =>
        Promise.all(
          opened.map((d) => (d.destroyed ? Promise.resolve() : new Promise((r) => d.once("close", r))))
        )
      )
      for (const d of opened) d.end("world")
      const cap = es.filter((e) => e.type === "file_captured")
      expect(cap.map((e) => [e.fields.size, e.fields.complete])).toEqual(Array(6).fill(["5", "false"]))
      expect(incomingOf(artifacts)).toEqual([])
    }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts, limits: { maxConnectionsPerIp: 2 } })))
  })

  it.scopedLive("max_transfer_seconds bounds an upload that trickles forever", () => {
    const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
    return Effect.gen(function* () {
      const port = yield* start({ max_transfer_seconds: 1 })
      const c = new Control(port)
      const reply = yield* Effect.promise(async () => {
        await c.login()
        const d = await connectData((await c.pasv())!)
        const at = c.text.length
        c.send("STOR slow.bin")
        await c.waitFor(/^150 /, at)
        // One byte every 100 ms keeps the 60 s idle timer from ever firing.
        const trickle = setInterval(() => d.write("x"), 100)
        const r = await c.waitFor(/^[2-5]\d\d /, at + 1, 20_000)
        clearInterval(trickle)
        return r
      })
      expect(reply).toBe("426 Failure reading network stream.")
      const cap = yield* eventsOf("file_captured")
      expect(cap.length).toBe(1)
      expect(cap[0]!.fields.complete).toBe("false")
      expect(Number(cap[0]!.fields.size)).toBeGreaterThan(0)
    }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
  })
})

/** PASV + STOR `name` with `body` on a logged-in control connection; the final reply line. */
const stor = async (c: Control, name: string, body: Buffer | string): Promise<string> => {
  const dport = await c.pasv()
  if (dport === undefined) return "no PASV"
  const d = await connectData(dport)
  const at = c.text.length
  c.send(`STOR ${name}`)
  const first = await c.waitFor(/^\d{3} /, at)
  if (!first.startsWith("150 ")) {
    d.destroy()
    return first
  }
  d.end(body)
  return c.waitFor(/^[2-5]\d\d /, at)
}

/** Log lines (messages) the service writes, for checking that a limit is logged once. */
const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message }) => {
    lines.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("ftp upload budgets", () => {
  it.scopedLive(
    "per session: files and bytes; a cut upload is discarded; a new session starts afresh",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      const logs = captureLogs()
      return Effect.gen(function* () {
        const port = yield* start({ max_session_uploads: 3, max_session_upload_bytes: 1000 })
        const replies = yield* Effect.promise(async () => {
          const c = new Control(port)
          await c.login()
          const out = [
            await stor(c, "a.bin", "A".repeat(600)),
            // Crosses 1000 bytes mid-transfer: cut, and its bytes go back to the budget.
            await stor(c, "b.bin", "B".repeat(600)),
            await stor(c, "c.bin", "C".repeat(300)),
            // 2 files kept (a, c): one more file fits, but only 100 bytes are left.
            await stor(c, "d.bin", "D".repeat(100)),
            await stor(c, "e.bin", "E")
          ]
          const c2 = new Control(port)
          await c2.login()
          out.push(await stor(c2, "f.bin", "F".repeat(900)))
          return out
        })
        expect(replies).toEqual([
          "226 Transfer complete.",
          "552 Exceeded storage allocation.",
          "226 Transfer complete.",
          "226 Transfer complete.",
          "552 Exceeded storage allocation.",
          "226 Transfer complete."
        ])
        const es = yield* waitForEvents((es) => es.filter((e) => e.type === "file_captured").length >= 4)
        expect(es.filter((e) => e.type === "file_captured").map((e) => e.fields.orig_path)).toEqual([
          "/a.bin",
          "/c.bin",
          "/d.bin",
          "/f.bin"
        ])
        const skipped = es.filter((e) => e.type === "file_skipped")
        expect(
          skipped.map((e) => [e.fields.orig_path, e.fields.reason, e.fields.quota, e.fields.limit])
        ).toEqual([
          ["/b.bin", "quota", "session_bytes", "1000"],
          ["/e.bin", "quota", "session_files", "3"]
        ])
        expect(Number(skipped[0]!.fields.size)).toBeGreaterThan(400)
        expect(skipped[1]!.fields).toMatchObject({
          size: "0",
          src_ip: "127.0.0.1",
          ftp_user: "a",
          command: "STOR"
        })
        expect(storedOf(artifacts).length).toBe(4)
        expect(incomingOf(artifacts)).toEqual([])
        // One warning per budget, however often it is hit.
        expect(logs.lines.filter((l) => l.includes("upload budget"))).toEqual([
          expect.stringContaining("session_bytes (1000)"),
          expect.stringContaining("session_files (3)")
        ])
      }).pipe(Effect.provide(logs.layer), Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )

  it.scopedLive("per instance: counted across sessions and from what the quarantine held at start", () => {
    const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
    return Effect.gen(function* () {
      const config = { max_total_uploads: 3, max_total_upload_bytes: 10_000 }
      const port = yield* start(config)
      const first = yield* Effect.promise(async () => {
        const out: Array<string> = []
        for (const name of ["a", "b", "c", "d"]) {
          const c = new Control(port)
          await c.login()
          out.push(await stor(c, `${name}.bin`, name.repeat(100)))
          c.send("QUIT")
        }
        return out
      })
      expect(first).toEqual([
        "226 Transfer complete.",
        "226 Transfer complete.",
        "226 Transfer complete.",
        "552 Exceeded storage allocation."
      ])
      // A second instance on the same quarantine (a restart) finds it full.
      const again = yield* start(config)
      const c = new Control(again)
      const reply = yield* Effect.promise(async () => {
        await c.login()
        return stor(c, "e.bin", "e")
      })
      expect(reply).toBe("552 Exceeded storage allocation.")
      const skipped = yield* eventsOf("file_skipped")
      expect(skipped.map((e) => [e.fields.orig_path, e.fields.quota, e.fields.limit])).toEqual([
        ["/d.bin", "instance_files", "3"],
        ["/e.bin", "instance_files", "3"]
      ])
      expect(storedOf(artifacts).length).toBe(3)
    }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
  })

  it.scopedLive("instance bytes: a big upload is cut once the instance total would pass it", () => {
    const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
    return Effect.gen(function* () {
      const port = yield* start({ max_total_upload_bytes: 50_000 })
      const local = mkdtempSync(join(tmpdir(), "ftp-up-"))
      writeFileSync(join(local, "big.bin"), Buffer.alloc(200_000, 7))
      const r = yield* run("curl", ["-s", "-S", "-T", join(local, "big.bin"), `ftp://a:b@127.0.0.1:${port}/`])
      expect(r.code).not.toBe(0)
      const skipped = yield* eventsOf("file_skipped")
      expect(skipped.map((e) => [e.fields.reason, e.fields.quota, e.fields.limit])).toEqual([
        ["quota", "instance_bytes", "50000"]
      ])
      expect(storedOf(artifacts)).toEqual([])
      expect(incomingOf(artifacts)).toEqual([])
    }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
  })

  it.scopedLive(
    "disk floor: no upload when free space is at or below it; 552, disk_full, logged once",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      const logs = captureLogs()
      return Effect.gen(function* () {
        // Demanding 100 % free is a floor no real filesystem clears.
        const port = yield* start({ min_free_disk_percent: 100 })
        const replies = yield* Effect.promise(async () => {
          const c = new Control(port)
          await c.login()
          return [await stor(c, "a.bin", "x"), await stor(c, "b.bin", "y")]
        })
        expect(replies).toEqual(["552 Exceeded storage allocation.", "552 Exceeded storage allocation."])
        const skipped = yield* eventsOf("file_skipped")
        expect(skipped.map((e) => [e.fields.orig_path, e.fields.reason])).toEqual([
          ["/a.bin", "disk_full"],
          ["/b.bin", "disk_full"]
        ])
        expect(Number(skipped[0]!.fields.floor_bytes)).toBeGreaterThan(Number(skipped[0]!.fields.free_bytes))
        expect(logs.lines.filter((l) => l.includes("free space"))).toHaveLength(1)
        expect(storedOf(artifacts)).toEqual([])
        expect(incomingOf(artifacts)).toEqual([])
        // The same service with the floor off takes the upload.
        const open = yield* start({ min_free_disk_percent: 0, min_free_disk_bytes: 0 })
        const c = new Control(open)
        expect(
          yield* Effect.promise(async () => {
            await c.login()
            return stor(c, "c.bin", "z")
          })
        ).toBe("226 Transfer complete.")
      }).pipe(Effect.provide(logs.layer), Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )
})

describe("ftp data connections per session", () => {
  it.scopedLive(
    "a second connection to the passive port is refused; the first still carries the upload",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      return Effect.gen(function* () {
        const port = yield* start()
        const c = new Control(port)
        const reply = yield* Effect.promise(async () => {
          await c.login()
          const dport = (await c.pasv())!
          const first = await connectData(dport)
          const second = await connectData(dport)
          await new Promise((r) => (second.destroyed ? r(undefined) : second.once("close", r)))
          const at = c.text.length
          c.send("STOR one.bin")
          await c.waitFor(/^150 /, at)
          first.end("only")
          return c.waitFor(/^[2-5]\d\d /, at)
        })
        expect(reply).toBe("226 Transfer complete.")
        expect((yield* eventsOf("file_captured")).map((e) => e.fields.size)).toEqual(["4"])
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )
})
