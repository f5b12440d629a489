// Evidence records for the ingester tests and benchmarks, built the way the pipeline builds them: a typed
// event encoded by its service's own Schema (so a renamed field breaks the tests), its RFC 5424 line, and
// one JSON line. No vitest here: bench code imports it too.
import { Either, Schema } from "effect"
import { type EvidenceRecord, EvidenceRecordJson } from "../../src/collector/Record.js"
import { ftpEvents } from "../../src/honeypots/ftp/Events.js"
import { httpEvents } from "../../src/honeypots/http/Events.js"
import { credentialFields } from "../../src/honeypots/runtime/Credentials.js"
import { smtpEvents } from "../../src/honeypots/smtp/Events.js"
import { sshEvents } from "../../src/honeypots/ssh/Events.js"
import { vncEvents } from "../../src/honeypots/vnc/Events.js"
import { type EventFields, encodeEventLine, type HoneypotEvent } from "../../src/logging/HoneypotEvent.js"

export const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, 0) + s * 1000)

/** Fields of a typed event, through the service's own encoder. */
export const fieldsOf = <E>(
  events: { readonly encode: (e: E) => Either.Either<EventFields, unknown> },
  event: E
) => Either.getOrThrow(events.encode(event))

export const event = (over: Partial<HoneypotEvent> = {}): HoneypotEvent => ({
  timestamp: at(0),
  decky: "decky-01",
  service: "redis",
  event_type: "command",
  attacker_ip: "203.0.113.7",
  attacker_port: 40000,
  fields: {},
  msg: "",
  severity: 6,
  ...over
})

export const record = (over: Partial<HoneypotEvent> = {}): EvidenceRecord => {
  const e = event(over)
  return { ...e, raw_line: encodeEventLine(e), source: { container: "inprocess" } }
}

const encode = Schema.encodeSync(EvidenceRecordJson)
export const jsonLine = (r: EvidenceRecord) => `${encode(r)}\n`

/** A numbered redis command record: `n` travels in its fields and its port. */
export const numbered = (n: number): EvidenceRecord =>
  record({
    timestamp: at(n % 3600),
    attacker_port: n % 65536,
    fields: { cmd: "GET", args: `["k${n}"]`, n: String(n) }
  })

// ---- typed events, encoded by their service's Schema ---------------------------------------------------

type At = Partial<Pick<HoneypotEvent, "timestamp" | "attacker_ip" | "decky" | "service">>

/** An http(s) `request` with these headers (the User-Agent also in `user_agent`, as the app logs it). */
export const httpRequest = (headers: Record<string, string>, over: At = {}) =>
  record({
    service: "http",
    event_type: "request",
    ...over,
    fields: fieldsOf(httpEvents, {
      _tag: "request",
      method: "GET",
      path: "/admin",
      headers,
      body: "",
      user_agent: headers["User-Agent"] ?? headers["user-agent"] ?? ""
    })
  })

/** An http `request` whose Authorization header carried a Basic credential. */
export const httpBasicAuth = (user: string, password: string, over: At = {}) =>
  record({
    service: "http",
    event_type: "request",
    ...over,
    fields: fieldsOf(httpEvents, {
      _tag: "request",
      method: "GET",
      path: "/",
      headers: { Authorization: "Basic xxx" },
      body: "",
      user_agent: "",
      ...credentialFields(user, password)
    })
  })

export const ja4hEvent = (ja4h: string, over: At = {}) =>
  record({
    service: "http",
    event_type: "http_request_fingerprint",
    ...over,
    fields: fieldsOf(httpEvents, {
      _tag: "http_request_fingerprint",
      remote_addr: "203.0.113.7:40000",
      proto: "h1",
      method: "GET",
      path: "/",
      ja4h,
      headers_ordered: ["host", "user-agent", "accept"],
      cookie: "",
      accept_language: ""
    })
  })

export const h2SettingsEvent = (
  settings: Record<string, number>,
  frameOrder: ReadonlyArray<number>,
  over: At = {}
) =>
  record({
    service: "https",
    event_type: "http2_settings",
    ...over,
    fields: fieldsOf(httpEvents, {
      _tag: "http2_settings",
      remote_addr: "203.0.113.7:40000",
      settings,
      frame_order: frameOrder
    })
  })

export const vncVersion = (clientVersion: string, over: At = {}) =>
  record({
    service: "vnc",
    event_type: "version",
    ...over,
    fields: fieldsOf(vncEvents, { _tag: "version", client_version: clientVersion })
  })

export const sshPassword = (user: string, password: string, over: At = {}) =>
  record({
    service: "ssh",
    event_type: "auth_attempt",
    severity: 4,
    ...over,
    fields: fieldsOf(sshEvents, {
      _tag: "auth_attempt",
      username: user,
      ...credentialFields(user, password),
      method: "password"
    })
  })

export const sshFile = (storedAs: string, over: At = {}) =>
  record({
    service: "ssh",
    event_type: "file_captured",
    ...over,
    fields: fieldsOf(sshEvents, {
      _tag: "file_captured",
      stored_as: storedAs,
      sha256: "ab".repeat(32),
      size: 1234,
      orig_path: "/tmp/x.sh",
      ssh_user: "root"
    })
  })

export const ftpFile = (storedAs: string, over: At = {}) =>
  record({
    service: "ftp",
    event_type: "file_captured",
    ...over,
    fields: fieldsOf(ftpEvents, {
      _tag: "file_captured",
      stored_as: storedAs,
      sha256: "cd".repeat(32),
      size: 99,
      orig_path: "/pub/a.bin",
      ftp_user: "anonymous",
      command: "STOR",
      complete: true
    })
  })

export const smtpStored = (storedAs: string, over: At = {}) =>
  record({
    service: "smtp",
    event_type: "message_stored",
    ...over,
    fields: fieldsOf(smtpEvents, {
      _tag: "message_stored",
      msg_id: "4F2A1B",
      stored_as: storedAs,
      sha256: "ef".repeat(32),
      size: 2048,
      truncated: false,
      mail_from: "a@example.org",
      rcpt_to: "b@example.net",
      subject: "invoice",
      from_hdr: "A <a@example.org>",
      to_hdr: "b@example.net",
      date_hdr: "",
      message_id_hdr: "<1@example.org>",
      content_type: "text/plain",
      return_path: "",
      x_mailer: "",
      dkim_signed: false,
      spf_pass: false,
      attachment_count: 1,
      attachments_json: [{ filename: "a.pdf", content_type: "application/pdf" }],
      urls_json: [],
      body_simhash: "0000000000000000",
      body_base64_bytes: 0,
      html_smuggling: false
    })
  })
