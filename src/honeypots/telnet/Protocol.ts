/**
 * Telnet option negotiation (RFC 854 command structure, RFC 855 option negotiation, RFC 1073 NAWS).
 * A pure decoder: raw bytes in, data bytes and negotiation replies out. IAC sequences split across
 * reads are carried over; subnegotiation is bounded.
 */

// RFC 854 "TELNET COMMAND STRUCTURE".
export const IAC = 255
export const DONT = 254
export const DO = 253
export const WONT = 252
export const WILL = 251
export const SB = 250
export const SE = 240
export const NOP = 241
export const AYT = 246
// Options: RFC 857 ECHO, RFC 858 SUPPRESS-GO-AHEAD, RFC 1073 NAWS, RFC 1091 TERMINAL-TYPE.
export const OPT_ECHO = 1
export const OPT_SGA = 3
export const OPT_TTYPE = 24
export const OPT_NAWS = 31

/** What busybox telnetd sends first: it echoes and suppresses go-ahead; it asks for the window size. */
export const INITIAL_NEGOTIATION = Buffer.from([
  IAC,
  DO,
  OPT_ECHO,
  IAC,
  DO,
  OPT_NAWS,
  IAC,
  WILL,
  OPT_ECHO,
  IAC,
  WILL,
  OPT_SGA
])

/**
 * busybox telnetd's answer to `IAC AYT`: an `IAC NOP` that goes out through its IAC-doubling writer,
 * so the client reads `FF FF F1` (observed on busybox 1.35, Debian bookworm).
 */
const AYT_REPLY = [IAC, IAC, NOP]

export interface DecodeResult {
  readonly data: Buffer
  readonly reply: Buffer
  /** Window size from NAWS, when the client sent one. */
  readonly window?: { readonly cols: number; readonly rows: number }
}

type State = "data" | "iac" | "skip1" | "naws"

/**
 * busybox telnetd's input side (telnetd.c remove_iacs): it never answers an option; `IAC DO/DONT/
 * WILL/WONT x` and `IAC SB x` (x not NAWS) are dropped as three bytes, the rest of such a
 * subnegotiation reaching the terminal as data; the other two-byte commands (SE, NOP, IP …) are
 * dropped; `IAC AYT` is answered; `IAC IAC` is a data 0xFF; `IAC SB NAWS w w h h IAC SE` sets the
 * window; `CR LF` and `CR NUL` are CR, and a NUL that ends a read is dropped.
 */
export class TelnetDecoder {
  private state: State = "data"
  private naws: Array<number> = []
  private lastWasCr = false

  feed(input: Uint8Array): DecodeResult {
    const data: Array<number> = []
    const reply: Array<number> = []
    let window: { cols: number; rows: number } | undefined
    const end = input.length > 0 && input[input.length - 1] === 0 ? input.length - 1 : input.length
    // CR LF / CR NUL → CR is done within one read, as busybox does: an LF in the next read is a line.
    this.lastWasCr = false
    for (let i = 0; i < end; i++) {
      const b = input[i] ?? 0
      switch (this.state) {
        case "data":
          if (b === IAC) this.state = "iac"
          else if (this.lastWasCr && (b === 0 || b === 0x0a)) this.lastWasCr = false
          else {
            this.lastWasCr = b === 0x0d
            data.push(b)
          }
          break
        case "iac":
          this.lastWasCr = false
          if (b === IAC) {
            data.push(IAC)
            this.state = "data"
          } else if (b === DO || b === DONT || b === WILL || b === WONT) this.state = "skip1"
          else if (b === SB) {
            this.naws = []
            this.state = "naws"
          } else {
            if (b === AYT) reply.push(...AYT_REPLY)
            this.state = "data"
          }
          break
        case "skip1":
          this.state = "data"
          break
        case "naws":
          this.naws.push(b)
          if (this.naws[0] !== OPT_NAWS) this.state = "data"
          else if (this.naws.length === 7) {
            const n = this.naws
            window = { cols: ((n[1] ?? 0) << 8) | (n[2] ?? 0), rows: ((n[3] ?? 0) << 8) | (n[4] ?? 0) }
            this.state = "data"
          }
          break
      }
    }
    return window === undefined
      ? { data: Buffer.from(data), reply: Buffer.from(reply) }
      : { data: Buffer.from(data), reply: Buffer.from(reply), window }
  }
}
