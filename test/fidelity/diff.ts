// The differential comparison shared by the fidelity tests: each probe of a corpus goes, on a fresh
// connection each, to the real server and to the emulator at once; the reply bytes (after an optional
// normalisation of what legitimately differs) and the ending (closed, reset, open) must match unless the
// probe is in the emulator's accepted list.
import { appendFileSync } from "node:fs"
import { basename } from "node:path"
import { expect } from "vitest"
import type { Accepted } from "./accepted.js"
import { type Observation, probe } from "./probe.js"

export interface Endpoint {
  readonly host: string
  readonly port: number
}

export interface CorpusProbe {
  readonly name: string
  readonly bytes: Buffer
}

export interface DiffOptions {
  /** Rewrites the fields that legitimately differ (hostnames, versions, times, random ids) in both replies. */
  readonly normalise?: (reply: Buffer) => string
  /** Milliseconds of silence that end a reply (default 300). */
  readonly quietMs?: number
  readonly realName?: string
  /**
   * The real server's "reset" equals the emulator's "closed". Linux ends a socket closed with input still
   * unread with RST instead of FIN, and whether the server had read all of a probe when it gave up is a
   * race (mysqld: the same probe ends either way from one run to the next), so it is nothing a scanner
   * can rely on. The reply bytes must still be equal.
   */
  readonly resetIsClose?: boolean
}

const show = (o: Observation, text: string) => `${JSON.stringify(text.slice(0, 240))} (${o.ending})`

/** The probe names as our own probes are named: the JSON text of the bytes, cut at 60 characters. */
export const named = (probes: ReadonlyArray<string>): Array<CorpusProbe> =>
  probes.map((p) => ({
    name: JSON.stringify(p.length > 60 ? `${p.slice(0, 57)}…` : p),
    bytes: Buffer.from(p)
  }))

/** Every difference not accepted, one readable paragraph each; [] when the emulator matches. */
export const differences = async (
  real: Endpoint,
  fake: Endpoint,
  corpus: ReadonlyArray<CorpusProbe>,
  accepted: ReadonlyArray<Accepted>,
  options: DiffOptions = {}
): Promise<Array<string>> => {
  const normalise = options.normalise ?? ((b: Buffer) => b.toString("latin1"))
  const ok = new Set(accepted.map((a) => a.probe))
  const out: Array<string> = []
  let differing = 0
  for (const p of corpus) {
    const [a, b] = await Promise.all([
      probe(real.host, real.port, p.bytes, options.quietMs),
      probe(fake.host, fake.port, p.bytes, options.quietMs)
    ])
    const ra = normalise(a.reply)
    const rb = normalise(b.reply)
    const sameEnding =
      a.ending === b.ending ||
      (options.resetIsClose === true && a.ending === "reset" && b.ending === "closed")
    if (ra === rb && sameEnding) continue
    differing++
    if (ok.has(p.name)) continue
    out.push(`${p.name}\n  ${options.realName ?? "real"}: ${show(a, ra)}\n  emulator: ${show(b, rb)}`)
  }
  record({ probes: corpus.length, differing, accepted: accepted.length, unexplained: out.length })
  return out
}

/**
 * The fidelity report (npm run fidelity, bench/fidelity.ts) runs the differential tests with
 * DECNET_FIDELITY_REPORT naming a file: each comparison appends one JSON line of counts to it.
 */
const record = (counts: {
  readonly probes: number
  readonly differing: number
  readonly accepted: number
  readonly unexplained: number
}) => {
  const file = process.env.DECNET_FIDELITY_REPORT
  if (file === undefined || file === "") return
  const test = basename(expect.getState().testPath ?? "unknown")
  appendFileSync(file, `${JSON.stringify({ test, ...counts })}\n`)
}
