/**
 * The client's first HTTP/2 SETTINGS frame, read off the wire for the `http2_settings` event
 * (spec/honeypots.md §3): which settings a client sends, in which order and with which values is
 * a fingerprint of its HTTP/2 stack (browsers, curl/nghttp2, Go, python-h2 all differ).
 *
 * As the original's listener tap: only the frame right after the connection preface counts, and
 * only when it is a SETTINGS frame of 1–16384 bytes; `settings` maps names to values (the last
 * value wins for a repeated id) and `frame_order` lists every id as sent. The tap reads at most
 * preface + frame header + 16 KiB, then lets go; it never fails, whatever the bytes.
 */

/** RFC 9113 §3.4: the client connection preface. */
export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")

const FRAME_HEADER_BYTES = 9
const FRAME_SETTINGS = 0x4
/** The default SETTINGS_MAX_FRAME_SIZE: a larger first frame is not a client preface. */
export const MAX_SETTINGS_PAYLOAD = 16_384

export interface H2Settings {
  /** Setting name → value; keys sorted, as the original's JSON encoder wrote them. */
  readonly settings: Readonly<Record<string, number>>
  /** Every setting id in wire order, repeats included. */
  readonly frameOrder: ReadonlyArray<number>
}

/** RFC 9113 §6.5.2 names (plus RFC 8441's CONNECT); reserved GREASE ids (≥ 0xf000) are `GREASE`. */
export const settingName = (id: number): string => {
  switch (id) {
    case 0x1:
      return "HEADER_TABLE_SIZE"
    case 0x2:
      return "ENABLE_PUSH"
    case 0x3:
      return "MAX_CONCURRENT_STREAMS"
    case 0x4:
      return "INITIAL_WINDOW_SIZE"
    case 0x5:
      return "MAX_FRAME_SIZE"
    case 0x6:
      return "MAX_HEADER_LIST_SIZE"
    case 0x8:
      return "ENABLE_CONNECT_PROTOCOL"
    default:
      return id >= 0xf000 ? "GREASE" : "UNKNOWN"
  }
}

/** Decode a SETTINGS payload: 6-byte (id, value) pairs; a trailing partial pair is ignored. */
export const parseSettingsPayload = (payload: Buffer): H2Settings => {
  const values = new Map<string, number>()
  const frameOrder: Array<number> = []
  for (let i = 0; i + 6 <= payload.length; i += 6) {
    const id = payload.readUInt16BE(i)
    values.set(settingName(id), payload.readUInt32BE(i + 2))
    frameOrder.push(id)
  }
  const settings: Record<string, number> = {}
  for (const name of [...values.keys()].sort()) settings[name] = values.get(name) ?? 0
  return { settings, frameOrder }
}

/**
 * Fed the first bytes of a connection, chunk by chunk. `feed` answers the SETTINGS once they are
 * complete, and `done` turns true as soon as the tap has its answer or knows there is none (not a
 * preface, another frame first, an empty or oversized SETTINGS); after that it buffers nothing.
 */
export class SettingsTap {
  private readonly chunks: Array<Buffer> = []
  private have = 0
  private need = H2_PREFACE.length + FRAME_HEADER_BYTES
  private finished = false

  get done(): boolean {
    return this.finished
  }

  feed(chunk: Buffer): H2Settings | undefined {
    if (this.finished || chunk.length === 0) return undefined
    this.chunks.push(chunk)
    this.have += chunk.length
    if (this.have < this.need) return undefined
    const head = Buffer.concat(this.chunks, this.have)
    this.chunks.length = 0
    this.chunks.push(head)
    if (!head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) return this.finish()
    const frame = H2_PREFACE.length
    const length = head.readUIntBE(frame, 3)
    if (head[frame + 3] !== FRAME_SETTINGS || length === 0 || length > MAX_SETTINGS_PAYLOAD)
      return this.finish()
    this.need = frame + FRAME_HEADER_BYTES + length
    if (this.have < this.need) return undefined
    const start = frame + FRAME_HEADER_BYTES
    const result = parseSettingsPayload(head.subarray(start, start + length))
    this.finish()
    return result
  }

  private finish(): undefined {
    this.finished = true
    this.chunks.length = 0
    this.have = 0
    return undefined
  }
}
