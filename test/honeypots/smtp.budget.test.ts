// The DATA budget (data_buffer_mb): parallel bodies that would pass it are refused with Postfix's
// 452 4.3.1, the rest are stored, and the instance never holds more than its cap.
import { mkdtempSync, readdirSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import {
  type DataBudget,
  DataBudgetProbe,
  makeBody,
  makeDataBudget
} from "../../src/honeypots/smtp/DataBudget.js"
import { smtpRelayHoneypot } from "../../src/honeypots/smtp/index.js"
import { makeQueueIds } from "../../src/honeypots/smtp/QueueId.js"
import { eventsOf, TestLayer, waitForEvents } from "./support.js"

const MiB = 1024 * 1024
const LINE = `${"x".repeat(998)}\r\n`

/** A body of `lines` 1000-byte lines. */
const bodyOf = (lines: number) => LINE.repeat(lines)

interface Client {
  /** Resolves once the body (without the final dot) has been handed to the kernel. */
  readonly bodySent: Promise<void>
  /** Send the final dot and QUIT; resolves with the whole transcript. */
  readonly finish: () => Promise<string>
  readonly abort: () => void
}

/** One pipelined SMTP transaction that stops before the final `.` until told to finish. */
const client = (port: number, body: string): Client => {
  const s = net.connect(port, "127.0.0.1")
  let text = ""
  let onText = () => {}
  s.on("data", (d) => {
    text += d.toString("latin1")
    onText()
  })
  s.on("error", () => {})
  const until = (needle: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (text.includes(needle)) resolve()
      }
      onText = check
      s.on("close", () => resolve())
      check()
    })
  s.on("connect", () =>
    s.write("EHLO budget.test\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<v@target.org>\r\nDATA\r\n")
  )
  const bodySent = until("354 ").then(() => new Promise<void>((resolve) => s.write(body, () => resolve())))
  return {
    bodySent,
    finish: () => {
      s.write(".\r\nQUIT\r\n")
      return until("221 ").then(() => {
        s.destroy()
        return text
      })
    },
    abort: () => s.destroy()
  }
}

/** Until `read` has not changed for three polls in a row (the server has consumed what was sent). */
const settled = (read: () => number) =>
  Effect.gen(function* () {
    let last = -1
    let same = 0
    for (let i = 0; i < 100 && same < 3; i++) {
      const now = read()
      same = now === last ? same + 1 : 0
      last = now
      yield* Effect.sleep("100 millis")
    }
  })

describe("smtp DATA budget", () => {
  it("a body is held line by line, truncated past max_body_bytes, and given back on release", () => {
    const budget = makeDataBudget(10_000)
    const a = makeBody(budget, 4_000)
    for (let i = 0; i < 5; i++) a.append(Buffer.from(LINE))
    expect([a.truncated(), a.refused(), a.content().length, a.received(), budget.held()]).toEqual([
      true,
      false,
      4_000,
      5_000,
      4_000
    ])
    const b = makeBody(budget, 100_000)
    for (let i = 0; i < 7; i++) b.append(Buffer.from(LINE))
    // The seventh line would pass 10,000 bytes: b is dropped at once and holds nothing.
    expect([b.refused(), b.content().length, b.received(), budget.held(), budget.refused()]).toEqual([
      true,
      0,
      7_000,
      4_000,
      1
    ])
    a.release()
    a.release()
    expect([budget.held(), budget.peak()]).toEqual([0, 10_000])
  })

  it.effect("queue ids belong to their instance: another instance's mail does not move them", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_733_000_000_000)
      const a = makeQueueIds("B")
      const b = makeQueueIds("C")
      const a1 = yield* a.next
      for (let i = 0; i < 5; i++) yield* b.next
      const a2 = yield* a.next
      const alone = makeQueueIds("B")
      expect([a1, a2]).toEqual([yield* alone.next, yield* alone.next])
      expect(a1).not.toBe(a2)
      expect(a1).toMatch(/^[BCDFGHJKLMNPQRSTVWXYZ23456789]{8,}B$/)
    })
  )

  it.scopedLive(
    "8 parallel 300 kB bodies against data_buffer_mb=1: refused ones get 452 4.3.1 and message_rejected, the rest are stored",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "smtp-budget-"))
      return Effect.gen(function* () {
        const budgets: Array<DataBudget> = []
        const [listener] = yield* smtpRelayHoneypot
          .start({ host: "127.0.0.1", config: { rcpt_drop_rate: 0, data_buffer_mb: 1 }, port: () => 0 })
          .pipe(
            Effect.provideService(DataBudgetProbe, {
              started: (_service, budget) => Effect.sync(() => void budgets.push(budget))
            })
          )
        const port = listener!.port
        expect(budgets.length).toBe(1)
        const budget = budgets[0]!
        expect(budget.limit).toBe(MiB)

        const body = bodyOf(300)
        const clients = Array.from({ length: 8 }, () => client(port, body))
        yield* Effect.promise(() => Promise.all(clients.map((c) => c.bodySent)))
        // Every body is in the server before any final dot: they compete for the budget at once.
        yield* settled(() => budget.held() + budget.refused())
        const transcripts = yield* Effect.promise(() => Promise.all(clients.map((c) => c.finish())))

        const queued = transcripts.filter((t) => /\r\n250 2\.0\.0 Ok: queued as [A-Z0-9]+\r\n/.test(t))
        const refused = transcripts.filter((t) => t.includes("\r\n452 4.3.1 Insufficient system storage\r\n"))
        expect(queued.length + refused.length).toBe(8)
        // 1 MiB holds three 300 kB bodies at most.
        expect(queued.length).toBeGreaterThanOrEqual(1)
        expect(queued.length).toBeLessThanOrEqual(3)
        expect(budget.peak()).toBeLessThanOrEqual(budget.limit)
        expect(budget.peak()).toBeGreaterThan(0)
        expect(budget.refused()).toBe(refused.length)

        const es = yield* waitForEvents(
          (es) =>
            es.filter((e) => e.type === "message_stored").length === queued.length &&
            es.filter((e) => e.type === "message_rejected").length === refused.length
        )
        const rejected = es.filter((e) => e.type === "message_rejected")
        expect(rejected.length).toBe(refused.length)
        for (const e of rejected) {
          expect(e.fields).toMatchObject({
            reason: "buffer_full",
            received_bytes: String(body.length),
            mail_from: "a@b.org",
            rcpt_to: "v@target.org"
          })
          expect(e.raw.startsWith("<132>1 ")).toBe(true)
        }
        const stored = es.filter((e) => e.type === "message_stored")
        expect(stored.every((e) => e.fields.size === String(body.length))).toBe(true)
        expect(readdirSync(join(artifacts, "smtp")).sort()).toEqual(
          stored.map((e) => e.fields.stored_as).sort()
        )
        expect(budget.held()).toBe(0)

        // A client gone mid-DATA gives its bytes back; the budget then takes a new message whole.
        const quitter = client(port, bodyOf(200))
        yield* Effect.promise(() => quitter.bodySent)
        yield* settled(() => budget.held())
        expect(budget.held()).toBe(200_000)
        quitter.abort()
        yield* settled(() => budget.held())
        expect(budget.held()).toBe(0)
        const after = yield* Effect.promise(() => {
          const c = client(port, bodyOf(900))
          return c.bodySent.then(() => c.finish())
        })
        expect(after).toMatch(/\r\n250 2\.0\.0 Ok: queued as /)
        expect((yield* eventsOf("message_accepted")).length).toBe(queued.length + 1)
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    },
    60_000
  )
})
