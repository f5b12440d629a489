// Helpers the imap and pop3 differential tests share: a probe from a chosen loopback source address (Dovecot
// keeps its failed-login penalty per source IP, so each failed-login probe comes from an address of its own,
// the same one for the real server and the emulator), and the normalisation of what legitimately differs.
import { createConnection } from "node:net"
import type { Accepted } from "./accepted.js"
import type { CorpusProbe } from "./diff.js"
import { type Ending, type Observation, probe } from "./probe.js"

/** probe.ts's probe with the client bound to `localAddress`, waiting up to 20 s. */
export const probeFrom = (
  localAddress: string | undefined,
  host: string,
  port: number,
  bytes: Buffer,
  quietMs: number,
  maxMs = 20_000
) => probe(host, port, bytes, quietMs, maxMs, localAddress)

/**
 * A client that waits: the greeting, then each step once the reply to the previous one has gone quiet
 * for `quietMs` (as a mail client does; Dovecot runs pipelined commands in parallel and interleaves
 * their replies, which no client relies on).
 */
export const probeSteps = (host: string, port: number, steps: ReadonlyArray<string>, quietMs: number) =>
  new Promise<Observation>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let ending: Ending = "open"
    let timer: ReturnType<typeof setTimeout> | undefined
    let next = 0
    const s = createConnection({ host, port })
    const finish = () => {
      clearTimeout(timer)
      clearTimeout(hard)
      s.destroy()
      resolve({ reply: Buffer.concat(chunks), ending })
    }
    const quiet = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        const step = steps[next++]
        if (step === undefined) return finish()
        s.write(Buffer.from(step, "latin1"))
        quiet()
      }, quietMs)
    }
    const hard = setTimeout(finish, 30_000)
    s.on("connect", quiet)
    s.on("data", (d: Buffer) => {
      chunks.push(d)
      quiet()
    })
    s.on("end", () => {
      ending = "closed"
      finish()
    })
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET") {
        ending = "reset"
        finish()
      } else reject(e)
    })
  })

/** Scripted sessions, one after the other: the differences not accepted. */
export const sessionDifferences = async (
  real: { host: string; port: number },
  fake: { host: string; port: number },
  sessions: ReadonlyArray<{ readonly name: string; readonly steps: ReadonlyArray<string> }>,
  accepted: ReadonlyArray<Accepted>,
  options: { normalise: (b: Buffer) => string; quietMs: number; realName: string }
): Promise<Array<string>> => {
  const ok = new Set(accepted.map((a) => a.probe))
  const out: Array<string> = []
  for (const session of sessions) {
    const [a, b] = await Promise.all([
      probeSteps(real.host, real.port, session.steps, options.quietMs),
      probeSteps(fake.host, fake.port, session.steps, options.quietMs)
    ])
    const d = describe(session.name, a, b, options)
    if (d !== undefined && !ok.has(session.name)) out.push(d)
  }
  return out
}

/** One difference in words, from the first line that differs (long sessions differ late); or none. */
const describe = (
  name: string,
  a: Observation,
  b: Observation,
  options: { normalise: (b: Buffer) => string; realName: string }
): string | undefined => {
  const ra = options.normalise(a.reply)
  const rb = options.normalise(b.reply)
  if (ra === rb && a.ending === b.ending) return undefined
  const la = ra.split("\r\n")
  const lb = rb.split("\r\n")
  let at = 0
  while (at < la.length && la[at] === lb[at]) at++
  const from = (l: Array<string>) => l.slice(Math.max(0, at - 1), at + 3).join("\r\n")
  const show = (o: Observation, l: Array<string>) =>
    `${at > 1 ? "…" : ""}${JSON.stringify(from(l).slice(0, 600))} (${o.ending})`
  return `${name}\n  ${options.realName}: ${show(a, la)}\n  emulator: ${show(b, lb)}`
}

/**
 * Each probe from its own source address (`${prefix}${first + i}`), all at once: the differences not
 * accepted, as diff.ts words them.
 */
export const differencesFrom = async (
  prefix: string | undefined,
  first: number,
  real: { host: string; port: number },
  fake: { host: string; port: number },
  corpus: ReadonlyArray<CorpusProbe>,
  accepted: ReadonlyArray<Accepted>,
  options: { normalise: (b: Buffer) => string; quietMs: number; realName: string }
): Promise<Array<string>> => {
  const ok = new Set(accepted.map((a) => a.probe))
  const results = await Promise.all(
    corpus.map(async (p, i) => {
      const src = prefix === undefined ? undefined : `${prefix}${first + i}`
      const [a, b] = await Promise.all([
        probeFrom(src, real.host, real.port, p.bytes, options.quietMs),
        probeFrom(src, fake.host, fake.port, p.bytes, options.quietMs)
      ])
      return ok.has(p.name) ? undefined : describe(p.name, a, b, options)
    })
  )
  return results.filter((r): r is string => r !== undefined)
}

/** Sort each run of consecutive lines starting with `prefix` (an order the server does not promise). */
export const sortRuns = (text: string, prefix: string): string => {
  const out: Array<string> = []
  let run: Array<string> = []
  for (const line of text.split("\r\n")) {
    if (line.startsWith(prefix)) {
      run.push(line)
      continue
    }
    out.push(...run.sort(), line)
    run = []
  }
  out.push(...run.sort())
  return out.join("\r\n")
}

/**
 * APPEND the bait to a real Dovecot's INBOX for admin over IMAP (LITERAL+, with each message's flags
 * and date), then open it once so no message stays \\Recent. Returns the server's replies.
 */
export const appendBait = async (
  host: string,
  port: number,
  bait: ReadonlyArray<{ flags: string; date?: string; body: string }>
) => {
  const cmds = bait.map(
    (m, i) =>
      `a${i} APPEND INBOX (${m.flags})${m.date === undefined ? "" : ` "${m.date}"`} {${Buffer.byteLength(m.body, "latin1")}+}\r\n${m.body}\r\n`
  )
  // LOGIN first, on its own: imap-login's input buffer is small, and while its auth process is still
  // connecting (a loaded machine) a pipelined batch overflows it ("BYE Input buffer full").
  const o = await probeSteps(
    host,
    port,
    ["a LOGIN admin admin123\r\n", cmds.join(""), "s SELECT INBOX\r\nz LOGOUT\r\n"],
    300
  )
  return o.reply.toString("latin1")
}
