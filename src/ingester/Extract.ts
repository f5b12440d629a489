/**
 * Bounty extraction (spec workers §4.3): what one stored event yields besides its `logs` row. Any event
 * carrying `secret_b64` is a captured credential; web requests give a User-Agent fingerprint and
 * proxy-header leaks or spoofs; JA4H, HTTP/2 SETTINGS and the VNC client version are fingerprints;
 * quarantined uploads and messages are artifacts. The service-specific fields are read back through the
 * service's own typed events (`<slug>/Events.ts`), so a renamed field fails the tests that emit it
 * instead of silently extracting nothing. Pure: the caller writes and logs.
 */
import { createHash } from "node:crypto"
import { Either, ParseResult } from "effect"
import { ftpEvents } from "../honeypots/ftp/Events.js"
import { httpEvents } from "../honeypots/http/Events.js"
import { httpsEvents } from "../honeypots/https/Events.js"
import { smtpEvents, smtpRelayEvents } from "../honeypots/smtp/Events.js"
import { sshEvents } from "../honeypots/ssh/Events.js"
import { vncEvents } from "../honeypots/vnc/Events.js"
import type { HoneypotEvent } from "../logging/HoneypotEvent.js"
import {
  B64_MAX,
  type CapturedCredential,
  KIND_MAX,
  type NewBounty,
  OUTCOME_MAX,
  PRINCIPAL_MAX,
  PRINTABLE_MAX,
  type UserAgentClient
} from "./Bounty.js"
import { classifyProxyClaim, trustedProxies } from "./ProxyHeaders.js"

export interface Extraction {
  readonly credential: CapturedCredential | undefined
  readonly bounties: ReadonlyArray<NewBounty>
  /** Fields that could not be read (a typed decode that failed, a secret that is not base64). */
  readonly problems: ReadonlyArray<string>
}

export interface ExtractorOptions {
  /** DECNET_TRUSTED_PROXIES: peers whose proxy headers are legitimate. */
  readonly trustedProxies: ReadonlyArray<string>
}

export interface Extractor {
  readonly extract: (event: HoneypotEvent) => Extraction
  /** Entries of `trustedProxies` that are neither an address nor a CIDR (ignored). */
  readonly invalidProxies: ReadonlyArray<string>
}

const NOTHING: Extraction = { credential: undefined, bounties: [], problems: [] }

// ---- credentials ---------------------------------------------------------------------------------------

/** The credential fields every emulator spreads into its events (runtime/Credentials.ts), plus `outcome`. */
const SECRET_FIELDS = new Set(["principal", "secret_printable", "secret_b64", "secret_kind", "outcome"])

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** At most `max` characters (code points, as a utf8mb4 VARCHAR counts them), never half a surrogate pair. */
export const truncate = (s: string, max: number): string => {
  if (s.length <= max) return s
  const points = Array.from(s)
  return points.length <= max ? s : points.slice(0, max).join("")
}

const credentialOf = (event: HoneypotEvent): CapturedCredential | string | undefined => {
  const f = event.fields
  const b64 = f.secret_b64
  if (b64 === undefined) return undefined
  if (!BASE64.test(b64))
    return `${event.service}/${event.event_type}: secret_b64 is not base64; no credential`
  const principal =
    f.principal === undefined || f.principal === "" ? null : truncate(f.principal, PRINCIPAL_MAX)
  const rest: Record<string, string> = {}
  for (const key in f) if (!SECRET_FIELDS.has(key)) rest[key] = f[key] ?? ""
  return {
    timestamp: event.timestamp,
    attacker_ip: event.attacker_ip,
    decky_name: event.decky,
    service: event.service,
    principal,
    principal_key: principal ?? "",
    secret_kind: truncate(
      f.secret_kind === undefined || f.secret_kind === "" ? "plaintext" : f.secret_kind,
      KIND_MAX
    ),
    secret_sha256: createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex"),
    secret_b64: truncate(b64, B64_MAX),
    secret_printable: f.secret_printable === undefined ? null : truncate(f.secret_printable, PRINTABLE_MAX),
    outcome: f.outcome === undefined || f.outcome === "" ? null : truncate(f.outcome, OUTCOME_MAX),
    fields: JSON.stringify(rest),
    attempts: 1
  }
}

// ---- fingerprints --------------------------------------------------------------------------------------

// The user-agent markers of spec intel §1 (the profiler's tool guesses), plus three common clients.
const UA_TOOLS: ReadonlyArray<readonly [UserAgentClient, RegExp]> = [
  ["nmap", /Nmap Scripting Engine/i],
  ["nikto", /Nikto/i],
  ["sqlmap", /sqlmap/i],
  ["nuclei", /Nuclei/i],
  ["masscan", /masscan/i],
  ["zgrab", /zgrab/i],
  ["metasploit", /Metasploit/i],
  ["python-requests", /python-requests/i],
  ["gobuster", /gobuster/i],
  ["dirbuster", /DirBuster/i],
  ["hydra", /hydra/i],
  ["wfuzz", /Wfuzz/i],
  ["curl", /^curl\//i],
  ["wget", /^Wget\//i],
  ["go-http-client", /^Go-http-client\//i]
]

/** A known tool by its User-Agent, else `browser` for a Mozilla/5.0 string, else `other`. */
export const classifyUserAgent = (ua: string): UserAgentClient => {
  for (const [client, re] of UA_TOOLS) if (re.test(ua)) return client
  return /^Mozilla\/5\.0 /.test(ua) ? "browser" : "other"
}

const shortHash = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 16)

/** SETTINGS by name in sorted order, and a hash of the wire order plus the values. */
export const http2SettingsPayload = (
  settings: Readonly<Record<string, number>>,
  frameOrder: ReadonlyArray<number>
) => {
  const sorted: Record<string, number> = {}
  for (const key of Object.keys(settings).sort()) sorted[key] = settings[key] ?? 0
  const canonical = `${frameOrder.join(",")}|${Object.entries(sorted)
    .map(([k, v]) => `${k}:${v}`)
    .join(",")}`
  return {
    fingerprint_type: "http2_settings" as const,
    hash: shortHash(canonical),
    settings: sorted,
    frame_order: [...frameOrder]
  }
}

// ---- per service ---------------------------------------------------------------------------------------

const WEB_TYPES = new Set(["request", "http_request_fingerprint", "http2_settings"])

/** The event types that can yield a bounty (every other event is only checked for a credential). */
const BOUNTY_TYPES = new Set([
  "request",
  "http_request_fingerprint",
  "http2_settings",
  "version",
  "file_captured",
  "message_stored"
])

const problem = (event: HoneypotEvent, error: ParseResult.ParseError): string =>
  `${event.service}/${event.event_type}: fields do not decode as the service's event (${ParseResult.TreeFormatter.formatErrorSync(
    error
  )})`

export const makeExtractor = (options: ExtractorOptions): Extractor => {
  const proxies = trustedProxies(options.trustedProxies)

  const web = (event: HoneypotEvent, out: Array<NewBounty>): string | undefined => {
    const decoded = (event.service === "https" ? httpsEvents : httpEvents).decode(
      event.event_type,
      event.fields
    )
    if (Either.isLeft(decoded)) return problem(event, decoded.left)
    const e = decoded.right
    const at = {
      timestamp: event.timestamp,
      decky: event.decky,
      service: event.service,
      attacker_ip: event.attacker_ip
    }
    switch (e._tag) {
      case "request": {
        if (e.user_agent !== "")
          out.push({
            ...at,
            bounty_type: "fingerprint",
            payload: {
              fingerprint_type: "http_useragent",
              value: e.user_agent,
              client: classifyUserAgent(e.user_agent)
            }
          })
        const claim = classifyProxyClaim(event.attacker_ip, e.headers, proxies.isTrusted)
        if (claim?.kind === "leak") out.push({ ...at, bounty_type: "ip_leak", payload: claim.payload })
        else if (claim?.kind === "spoof")
          out.push({ ...at, bounty_type: "fingerprint", payload: claim.payload })
        return undefined
      }
      case "http_request_fingerprint":
        if (e.ja4h !== "")
          out.push({ ...at, bounty_type: "fingerprint", payload: { fingerprint_type: "ja4h", ja4h: e.ja4h } })
        return undefined
      case "http2_settings":
        out.push({
          ...at,
          bounty_type: "fingerprint",
          payload: http2SettingsPayload(e.settings, e.frame_order)
        })
        return undefined
      default:
        return undefined
    }
  }

  const vnc = (event: HoneypotEvent, out: Array<NewBounty>): string | undefined => {
    const decoded = vncEvents.decode(event.event_type, event.fields)
    if (Either.isLeft(decoded)) return problem(event, decoded.left)
    const e = decoded.right
    if (e._tag === "version" && e.client_version !== "")
      out.push({
        timestamp: event.timestamp,
        decky: event.decky,
        service: event.service,
        attacker_ip: event.attacker_ip,
        bounty_type: "fingerprint",
        payload: { fingerprint_type: "vnc_client_version", value: e.client_version }
      })
    return undefined
  }

  const upload = (event: HoneypotEvent, out: Array<NewBounty>): string | undefined => {
    const file = (f: {
      readonly stored_as: string
      readonly sha256: string
      readonly size: number
      readonly orig_path: string
    }) =>
      out.push({
        timestamp: event.timestamp,
        decky: event.decky,
        service: event.service,
        attacker_ip: event.attacker_ip,
        bounty_type: "artifact",
        payload: {
          kind: "file",
          stored_as: f.stored_as,
          sha256: f.sha256,
          size: f.size,
          orig_path: f.orig_path
        }
      })
    if (event.service === "ssh") {
      const decoded = sshEvents.decode(event.event_type, event.fields)
      if (Either.isLeft(decoded)) return problem(event, decoded.left)
      if (decoded.right._tag === "file_captured") file(decoded.right)
      return undefined
    }
    const decoded = ftpEvents.decode(event.event_type, event.fields)
    if (Either.isLeft(decoded)) return problem(event, decoded.left)
    if (decoded.right._tag === "file_captured") file(decoded.right)
    return undefined
  }

  const mail = (event: HoneypotEvent, out: Array<NewBounty>): string | undefined => {
    const decoded = (event.service === "smtp_relay" ? smtpRelayEvents : smtpEvents).decode(
      event.event_type,
      event.fields
    )
    if (Either.isLeft(decoded)) return problem(event, decoded.left)
    const e = decoded.right
    if (e._tag === "message_stored")
      out.push({
        timestamp: event.timestamp,
        decky: event.decky,
        service: event.service,
        attacker_ip: event.attacker_ip,
        bounty_type: "artifact",
        payload: {
          kind: "mail",
          stored_as: e.stored_as,
          sha256: e.sha256,
          size: e.size,
          msg_id: e.msg_id,
          mail_from: e.mail_from,
          rcpt_to: e.rcpt_to,
          subject: e.subject,
          attachment_count: e.attachment_count
        }
      })
    return undefined
  }

  const bountiesOf = (event: HoneypotEvent, out: Array<NewBounty>): string | undefined => {
    switch (event.service) {
      case "http":
      case "https":
        return WEB_TYPES.has(event.event_type) ? web(event, out) : undefined
      case "vnc":
        return event.event_type === "version" ? vnc(event, out) : undefined
      case "ssh":
      case "ftp":
        return event.event_type === "file_captured" ? upload(event, out) : undefined
      case "smtp":
      case "smtp_relay":
        return event.event_type === "message_stored" ? mail(event, out) : undefined
      default:
        return undefined
    }
  }

  const extract = (event: HoneypotEvent): Extraction => {
    const hasSecret = event.fields.secret_b64 !== undefined
    if (!hasSecret && !BOUNTY_TYPES.has(event.event_type)) return NOTHING
    const problems: Array<string> = []
    const cred = hasSecret ? credentialOf(event) : undefined
    if (typeof cred === "string") problems.push(cred)
    const bounties: Array<NewBounty> = []
    if (BOUNTY_TYPES.has(event.event_type)) {
      const failed = bountiesOf(event, bounties)
      if (failed !== undefined) problems.push(failed)
    }
    return { credential: typeof cred === "string" ? undefined : cred, bounties, problems }
  }

  return { extract, invalidProxies: proxies.invalid }
}
