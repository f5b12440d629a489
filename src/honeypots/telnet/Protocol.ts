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
// Options: RFC 857 ECHO, RFC 858 SUPPRESS-GO-AHEAD, RFC 1073 NAWS, RFC 1091 TERMINAL-TYPE.
export const OPT_ECHO = 1
export const OPT_SGA = 3
export const OPT_TTYPE = 24
export const OPT_NAWS = 31

const MAX_SUBNEG = 64

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

export interface DecodeResult {
  readonly data: Buffer
  readonly reply: Buffer
  /** Window size from NAWS, when the client sent one. */
  readonly window?: { readonly cols: number; readonly rows: number }
}

type State = "data" | "iac" | "option" | "sb" | "sb-iac"

export class TelnetDecoder {
  private state: State = "data"
  private verb = 0
  private sub: Array<number> = []
  /** Options we already answered, so a chatty client cannot start a negotiation loop (RFC 854 §"loops"). */
  private readonly answered = new Set<string>()
  private lastWasCr = false

  feed(input: Uint8Array): DecodeResult {
    const data: Array<number> = []
    const reply: Array<number> = []
    let window: { cols: number; rows: number } | undefined
    for (const b of input) {
      switch (this.state) {
        case "data":
          if (b === IAC) this.state = "iac"
          else if (this.lastWasCr && (b === 0 || b === 0x0a)) {
            // RFC 854: CR is sent as CR NUL or CR LF; both mean end of line.
            this.lastWasCr = false
          } else {
            this.lastWasCr = b === 0x0d
            data.push(b)
          }
          break
        case "iac":
          if (b === IAC) {
            data.push(IAC)
            this.state = "data"
          } else if (b === DO || b === DONT || b === WILL || b === WONT) {
            this.verb = b
            this.state = "option"
          } else if (b === SB) {
            this.sub = []
            this.state = "sb"
          } else this.state = "data" // NOP, GA, AYT, IP …: single-byte commands are swallowed.
          break
        case "option": {
          this.state = "data"
          const key = `${this.verb}:${b}`
          if (this.answered.has(key)) break
          this.answered.add(key)
          if (this.verb === DO && b !== OPT_ECHO && b !== OPT_SGA) reply.push(IAC, WONT, b)
          else if (this.verb === WILL && b !== OPT_NAWS && b !== OPT_TTYPE && b !== OPT_ECHO)
            reply.push(IAC, DONT, b)
          break
        }
        case "sb":
          if (b === IAC) this.state = "sb-iac"
          else if (this.sub.length < MAX_SUBNEG) this.sub.push(b)
          break
        case "sb-iac":
          if (b === SE) {
            this.state = "data"
            const s = this.sub
            if (s[0] === OPT_NAWS && s.length >= 5)
              window = { cols: (s[1]! << 8) | s[2]!, rows: (s[3]! << 8) | s[4]! }
          } else {
            if (b === IAC && this.sub.length < MAX_SUBNEG) this.sub.push(IAC)
            this.state = "sb"
          }
          break
      }
    }
    return window === undefined
      ? { data: Buffer.from(data), reply: Buffer.from(reply) }
      : { data: Buffer.from(data), reply: Buffer.from(reply), window }
  }
}
