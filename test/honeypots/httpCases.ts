/**
 * Shared by the http and https tests: generated HTTP/1.x requests for the fuzz tests (mostly
 * plausible, some hostile), and an independent JA4H oracle fed by what curl says it sent.
 */
import { createHash } from "node:crypto"
import type * as net from "node:net"
import type * as tls from "node:tls"
import { Chunk, Clock, Effect, TestClock } from "effect"
import fc from "fast-check"

const b64 = (s: string) => Buffer.from(s).toString("base64")

const header = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.constantFrom(
      "Host: target",
      `Authorization: Basic ${b64("admin:admin")}`,
      "Authorization: Basic !!!notbase64",
      "Authorization: Bearer eyJhbGciOi.x.y",
      'Authorization: Digest username="bob", realm="r", nonce="n", uri="/", response="6629fae49393a05397450978507c4ef1"',
      "Authorization: Digest response=",
      "Content-Type: application/x-www-form-urlencoded",
      "Content-Type: application/x-www-form-urlencoded; charset=UTF-8",
      "User-Agent: () { :; }; /bin/bash -c id",
      "Cookie: PHPSESSID=deadbeef; wp-settings=1",
      "X-Forwarded-For: 10.0.0.1"
    )
  },
  // Framing-breaking headers: each one usually ends the pipelined connection with a 400.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "Content-Length: 5",
      "Content-Length: -1",
      "Content-Length: 99999999999",
      "Transfer-Encoding: chunked",
      "Connection: close",
      "Upgrade: h2c",
      "Expect: 100-continue"
    )
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 80 }))
      .map(([k, v]) => `${k}: ${v}`)
  }
)

const body = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "log=admin&pwd=secret",
    "username=a%20b&password=p%ZZ&x=1",
    "pma_username=root&pma_password=",
    "password"
  ),
  fc.string({ unit: "binary", maxLength: 600 }),
  fc.constant("A".repeat(5000))
)

export const request = fc
  .tuple(
    fc.oneof(
      {
        weight: 9,
        arbitrary: fc.constantFrom(
          "GET",
          "POST",
          "PUT",
          "DELETE",
          "PATCH",
          "OPTIONS",
          "HEAD",
          "TRACE",
          "PROPFIND"
        )
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }
    ),
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          "/",
          "/wp-login.php",
          "/.env",
          "/../../etc/passwd",
          "/%00",
          "*",
          "/a?b=c#d"
        )
      },
      { weight: 4, arbitrary: fc.webPath().map((p) => (p === "" ? "/" : p)) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) }
    ),
    fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom("HTTP/1.1", "HTTP/1.0") },
      { weight: 1, arbitrary: fc.constantFrom("HTTP/2.0", "HTTP/9.9", "", "HTTP/1.1 extra") }
    ),
    fc.array(header, { maxLength: 8 }),
    body,
    fc.nat(),
    fc.string({ unit: "binary", maxLength: 4 })
  )
  .map(([method, path, version, headers, b, cut, noise]) => {
    const hasLength =
      headers.some((h) => /^content-length:/i.test(h)) || headers.some((h) => /^transfer-encoding/i.test(h))
    const text = `${method} ${path} ${version}\r\n${[...headers, ...(hasLength ? [] : [`Content-Length: ${Buffer.byteLength(b, "latin1")}`])].join("\r\n")}\r\n\r\n${b}`
    // One case in ten is damaged at a random offset.
    const at = cut % (text.length * 10)
    return Buffer.from(at < text.length ? text.slice(0, at) + noise + text.slice(at) : text, "latin1")
  })

/** The header lines curl says it sent (`curl -v`: `> Name: value`), request line dropped. */
export const sentHeaders = (verbose: string, h2: boolean): Array<[string, string]> =>
  verbose
    .split(/\r?\n/)
    .filter((l) => /^> [^ ]+: /.test(l))
    .map((l): [string, string] => {
      const i = l.indexOf(": ")
      return [l.slice(2, i), l.slice(i + 2)]
    })
    // curl prints h2's :authority as a Host line; on the wire it is a pseudo-header.
    .filter(([n]) => !(h2 && n === "Host"))

const sha12 = (s: string) =>
  s === "" ? "000000000000" : createHash("sha256").update(s).digest("hex").slice(0, 12)

/** JA4H straight from FoxIO's definition, written apart from src/ so the two can disagree. */
export const expectedJa4h = (
  method: string,
  version: "10" | "11" | "20",
  headers: ReadonlyArray<[string, string]>
) => {
  const isCookie = (n: string) => n.toLowerCase() === "cookie"
  const isReferer = (n: string) => n.toLowerCase() === "referer"
  const names = headers.map(([n]) => n).filter((n) => !isCookie(n) && !isReferer(n))
  const cookies = headers.filter(([n]) => isCookie(n)).flatMap(([, v]) => v.split(";").map((c) => c.trim()))
  const lang = headers.find(([n]) => n.toLowerCase() === "accept-language")?.[1] ?? ""
  const primary = (lang.split(",")[0] ?? "").replace(/-/g, "").toLowerCase().slice(0, 4).padEnd(4, "0")
  const a = `${method.slice(0, 2).toLowerCase()}${version}${cookies.length > 0 ? "c" : "n"}${headers.some(([n]) => isReferer(n)) ? "r" : "n"}${String(names.length).padStart(2, "0")}${primary}`
  return `${a}_${sha12(names.join(","))}_${sha12(
    cookies
      .map((c) => c.split("=")[0]!)
      .sort()
      .join(",")
  )}_${sha12([...cookies].sort().join(","))}`
}

/**
 * What an `http2_settings` event from curl must hold, checked against itself rather than against
 * one curl version's values: a non-empty id list whose names are exactly the settings' keys, and
 * ENABLE_PUSH 0, which libcurl (nghttp2) always sends because it refuses server push.
 */
export const curlSettingsProblems = (fields: Record<string, string>): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const order: unknown = JSON.parse(fields.frame_order ?? "null")
  const settings: unknown = JSON.parse(fields.settings ?? "null")
  if (!Array.isArray(order) || order.length === 0 || !order.every((id) => Number.isInteger(id)))
    problems.push(`frame_order is not a list of ids: ${fields.frame_order}`)
  if (typeof settings !== "object" || settings === null)
    problems.push(`settings is not an object: ${fields.settings}`)
  else {
    const names: Record<number, string> = {
      1: "HEADER_TABLE_SIZE",
      2: "ENABLE_PUSH",
      3: "MAX_CONCURRENT_STREAMS"
    }
    Object.assign(names, { 4: "INITIAL_WINDOW_SIZE", 5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE" })
    const expected = [
      ...new Set((Array.isArray(order) ? order : []).map((id) => names[id] ?? "UNKNOWN"))
    ].sort()
    if (JSON.stringify(Object.keys(settings)) !== JSON.stringify(expected))
      problems.push(`settings keys ${Object.keys(settings).join(",")} do not match frame_order`)
    if (Object.entries(settings).find(([k]) => k === "ENABLE_PUSH")?.[1] !== 0)
      problems.push("ENABLE_PUSH is not 0")
  }
  return problems
}

/**
 * Slowloris: open a connection (`open` calls `onOpen` once connected), send a request line, then
 * trickle one header line every 2 s so the idle timeout never fires and only a header deadline can.
 * Resolves with everything the server sent once it closes, or `still open: …` after 40 s.
 */
export const trickledHeaders = (
  open: (onOpen: () => void) => net.Socket | tls.TLSSocket
): Effect.Effect<string> =>
  Effect.promise(
    () =>
      new Promise<string>((resolve) => {
        const s = open(() => s.write("GET / HTTP/1.1\r\nHost: x\r\n"))
        let text = ""
        const drip = setInterval(() => s.write(`X-${Date.now()}: a\r\n`), 2000)
        s.on("data", (d) => (text += d.toString()))
        s.on("error", () => {})
        s.on("close", () => {
          clearInterval(drip)
          resolve(text)
        })
        setTimeout(() => {
          clearInterval(drip)
          s.destroy()
          resolve(`still open: ${text}`)
        }, 40_000)
      })
  )

/**
 * A slowloris that ignores the server's close: a request line, then a header line every 200 ms; once
 * answered it keeps its own side open (the socket must be opened with `allowHalfOpen`) and keeps
 * trickling, as a client bent on holding its connection slot would. Only the server can end it.
 */
export const hostileTrickler = (
  socket: net.Socket | tls.TLSSocket,
  connectEvent: "connect" | "secureConnect"
) => {
  let text = ""
  let closed = false
  let drip: ReturnType<typeof setInterval> | undefined
  socket.once(connectEvent, () => {
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n")
    drip = setInterval(() => {
      if (!socket.destroyed) socket.write(`X-${Date.now()}: a\r\n`)
    }, 200)
  })
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1")
  })
  socket.on("error", () => {})
  socket.on("close", () => {
    closed = true
    clearInterval(drip)
  })
  return {
    text: () => text,
    closed: () => closed,
    stop: () => {
      clearInterval(drip)
      socket.destroy()
    }
  }
}

/** Poll `condition` on real time (for tests whose Effect clock is a TestClock); false on timeout. */
export const realTimeUntil = (condition: () => boolean, timeoutMs = 10_000): Effect.Effect<boolean> =>
  Effect.promise(
    () =>
      new Promise<boolean>((resolve) => {
        const start = Date.now()
        const tick = () => {
          if (condition()) resolve(true)
          else if (Date.now() - start > timeoutMs) resolve(false)
          else setTimeout(tick, 10)
        }
        tick()
      })
  )

/**
 * Wait (on real time) until some fiber sleeps on the TestClock until at most `withinMs` from now:
 * the server has scheduled a deadline that `TestClock.adjust(withinMs)` will reach.
 */
export const sleepScheduledWithin = (withinMs: number, timeoutMs = 10_000): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const now = yield* Clock.currentTimeMillis
      if (Chunk.some(yield* TestClock.sleeps(), (at) => at <= now + withinMs)) return true
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    return false
  })
