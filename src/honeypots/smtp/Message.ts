/**
 * What we extract from a captured message (spec/honeypots.md §10 `message_stored`): the headers an
 * analyst pivots on and the URLs in the body. Works on a bounded buffer; never throws.
 */

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
  readonly attachment_count: number
  readonly urls_json: string
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

export const summarize = (message: Buffer): MessageSummary => {
  const h = parseHeaders(message)
  const get = (k: string) => h.get(k) ?? ""
  const body = message.toString("latin1")
  const urls = new Set<string>()
  for (const m of body.matchAll(/https?:\/\/[^\s"'<>()]{1,512}/gi)) {
    urls.add(m[0])
    if (urls.size >= MAX_URLS) break
  }
  const attachments = body.match(/Content-Disposition:\s*attachment/gi)?.length ?? 0
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
    attachment_count: attachments,
    urls_json: JSON.stringify([...urls])
  }
}
