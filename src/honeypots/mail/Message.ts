/**
 * What we extract from a captured message (spec/honeypots.md §10 `message_stored`): the headers an
 * analyst pivots on, attachments, URLs, a similarity hash and a few phishing tells. Works on a
 * bounded buffer; never throws. The header parser is shared with the bait mailbox's seed messages.
 */
import { createHash } from "node:crypto"
import { Schema } from "effect"

/** One attachment as `message_stored` lists it (`attachments_json`). */
export const Attachment = Schema.Struct({ filename: Schema.String, content_type: Schema.String })
export type Attachment = typeof Attachment.Type

export interface MessageSummary {
  readonly subject: string
  readonly from_hdr: string
  readonly to_hdr: string
  readonly date_hdr: string
  readonly message_id_hdr: string
  readonly content_type: string
  readonly return_path: string
  readonly x_mailer: string
  readonly dkim_signed: boolean
  readonly spf_pass: boolean
  readonly attachment_count: number
  /** Logged as compact JSON (the field names are the wire's). */
  readonly attachments_json: ReadonlyArray<Attachment>
  readonly urls_json: ReadonlyArray<string>
  readonly body_simhash: string
  readonly body_base64_bytes: number
  readonly html_smuggling: boolean
}

/** Bytes of header section we look at: plenty for real mail, bounded for hostile input. */
const MAX_HEADER_BYTES = 64 * 1024
const MAX_URLS = 64

/** RFC 5322 §2.2: header fields, unfolded; the first occurrence of each name wins. */
export const parseHeaders = (message: Buffer): ReadonlyMap<string, string> => {
  const text = message.subarray(0, MAX_HEADER_BYTES).toString("latin1")
  const end = text.search(/\r?\n\r?\n/)
  const block = end < 0 ? text : text.slice(0, end)
  const headers = new Map<string, string>()
  let name: string | undefined
  let value = ""
  const flush = () => {
    if (name !== undefined && !headers.has(name)) headers.set(name, value.trim())
  }
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && name !== undefined) {
      value += ` ${line.trim()}`
      continue
    }
    flush()
    const colon = line.indexOf(":")
    if (colon <= 0) {
      name = undefined
      continue
    }
    name = line.slice(0, colon).trim().toLowerCase()
    value = line.slice(colon + 1)
  }
  flush()
  return headers
}

/** Charikar simhash over lowercase word tokens; each token weighs in by the first 8 bytes of its MD5. */
export const simhash64 = (text: string): string => {
  const v = new Array<number>(64).fill(0)
  let tokens = 0
  for (const m of text.toLowerCase().matchAll(/[a-z0-9]{2,}/g)) {
    if (++tokens > 20_000) break
    const h = createHash("md5").update(m[0]).digest()
    for (let bit = 0; bit < 64; bit++) {
      const byte = h[bit >> 3]!
      v[bit]! += (byte >> (7 - (bit & 7))) & 1 ? 1 : -1
    }
  }
  let out = ""
  for (let nibble = 0; nibble < 16; nibble++) {
    let n = 0
    for (let b = 0; b < 4; b++) n = (n << 1) | (v[nibble * 4 + b]! > 0 ? 1 : 0)
    out += n.toString(16)
  }
  return out
}

const MAX_PARTS = 64

/** MIME parts (RFC 2046 §5.1) found by their part headers; nested multiparts are scanned flat. */
const mimeParts = (text: string): Array<{ headers: ReadonlyMap<string, string>; body: string }> => {
  const parts: Array<{ headers: ReadonlyMap<string, string>; body: string }> = []
  const boundaries = [...text.matchAll(/boundary="?([^";\r\n]{1,200})"?/gi)].map((m) => m[1]!)
  for (const boundary of boundaries) {
    for (const chunk of text.split(`--${boundary}`).slice(1)) {
      if (parts.length >= MAX_PARTS) return parts
      const body = chunk.replace(/^\r?\n/, "")
      if (body.startsWith("--")) continue
      const headers = parseHeaders(Buffer.from(body, "latin1"))
      const sep = body.search(/\r?\n\r?\n/)
      parts.push({ headers, body: sep < 0 ? "" : body.slice(sep).trim() })
    }
  }
  return parts
}

export const summarize = (message: Buffer): MessageSummary => {
  const h = parseHeaders(message)
  const get = (k: string) => h.get(k) ?? ""
  const text = message.toString("latin1")
  const sep = text.search(/\r?\n\r?\n/)
  const body = sep < 0 ? "" : text.slice(sep)
  const urls = new Set<string>()
  for (const m of text.matchAll(/https?:\/\/[^\s"'<>()]{1,512}/gi)) {
    urls.add(m[0])
    if (urls.size >= MAX_URLS) break
  }
  const parts = mimeParts(text)
  const attachments: Array<Attachment> = []
  let base64Bytes = 0
  for (const p of parts) {
    const disposition = p.headers.get("content-disposition") ?? ""
    const type = p.headers.get("content-type") ?? ""
    const filename =
      /filename\*?="?([^";]+)"?/i.exec(disposition)?.[1] ?? /name="?([^";]+)"?/i.exec(type)?.[1]
    if (/attachment/i.test(disposition) || filename !== undefined)
      attachments.push({ filename: filename ?? "", content_type: type.split(";")[0]!.trim() })
    if (/base64/i.test(p.headers.get("content-transfer-encoding") ?? ""))
      base64Bytes += p.body.replace(/\s+/g, "").length
  }
  const spf = `${get("received-spf")} ${get("authentication-results")}`
  return {
    subject: get("subject"),
    from_hdr: get("from"),
    to_hdr: get("to"),
    date_hdr: get("date"),
    message_id_hdr: get("message-id"),
    content_type: get("content-type"),
    return_path: get("return-path"),
    x_mailer: get("x-mailer"),
    dkim_signed: h.has("dkim-signature"),
    spf_pass: /^\s*pass\b/i.test(get("received-spf")) || /\bspf=pass\b/i.test(spf),
    attachment_count: attachments.length,
    attachments_json: attachments,
    urls_json: [...urls],
    body_simhash: simhash64(body),
    body_base64_bytes: base64Bytes,
    // HTML smuggling: a page that assembles a file client-side (Blob + atob / msSaveOrOpenBlob / a.download).
    html_smuggling:
      /<script/i.test(text) &&
      /(new\s+Blob|msSaveOrOpenBlob|atob\s*\(|\.download\s*=|createObjectURL)/i.test(text)
  }
}
