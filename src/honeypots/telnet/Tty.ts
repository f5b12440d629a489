/**
 * The pty's line discipline as /bin/login sees it under busybox telnetd (Linux n_tty in canonical
 * mode, termios as telnetd sets it: ICRNL, ONLCR, XTABS, ECHO with ECHOE/ECHOK/ECHOCTL/ECHOKE, ISIG).
 * A pure state machine: bytes the client typed in, the echo and the completed lines out. The echo is
 * byte for byte (UTF-8 and Latin-1 alike; no decoding), control characters echo as `^X`, a tab as
 * spaces to the next multiple of 8, erase as `\b \b`; input past 4095 bytes in a line is dropped.
 */

/** N_TTY_BUF_SIZE - 1: what a canonical line holds. */
export const MAX_TTY_LINE = 4095

const VINTR = 0x03
const VEOF = 0x04
const VERASE = 0x7f
const VKILL = 0x15
const VWERASE = 0x17
const VQUIT = 0x1c
const VSUSP = 0x1a

export interface TtyLine {
  readonly bytes: Buffer
  /** Ended by VEOF (^D) instead of a newline: login then starts a new line itself. */
  readonly eof: boolean
}

interface Char {
  readonly byte: number
  /** Columns its echo took, so erase can take them back. */
  readonly width: number
}

export class LineDiscipline {
  /** ECHO: login turns it off for the password. */
  echo = true
  /**
   * ^C or ^\ was typed: SIGINT / SIGQUIT killed login (it keeps their default action at its prompts),
   * and busybox telnetd closes the connection when the pty's last user is gone.
   */
  killed = false
  private line: Array<Char> = []
  private readonly queue: Array<TtyLine> = []
  private column = 0

  /** Where the cursor is after output the program wrote (a prompt): tabs are expanded from it. */
  wrote(text: string): void {
    const nl = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"))
    this.column = nl < 0 ? this.column + text.length : text.length - nl - 1
  }

  /** The next completed line, if any. */
  next(): TtyLine | undefined {
    return this.queue.shift()
  }

  /** tcsetattr(TCSAFLUSH) / tcflush: typed-ahead input (lines and the partial line) is discarded. */
  flush(): void {
    this.queue.length = 0
    this.line = []
  }

  /** Process typed bytes; returns what the terminal echoes (before telnetd's IAC doubling). */
  feed(input: Uint8Array): Buffer {
    const out: Array<number> = []
    const put = (bytes: ReadonlyArray<number>) => {
      if (this.echo) out.push(...bytes)
    }
    const erase = () => {
      const c = this.line.pop()
      if (c === undefined) return
      this.column -= c.width
      if (c.byte === 0x09) put(Array.from({ length: c.width }, () => 0x08))
      else for (let i = 0; i < c.width; i++) put([0x08, 0x20, 0x08])
    }
    for (const b of input) {
      if (b === 0x0d || b === 0x0a) {
        // ICRNL: CR is NL; ONLCR: NL echoes as CR LF.
        this.queue.push({ bytes: Buffer.from(this.line.map((c) => c.byte)), eof: false })
        this.line = []
        put([0x0d, 0x0a])
        this.column = 0
      } else if (b === VERASE) erase()
      else if (b === VKILL) while (this.line.length > 0) erase()
      else if (b === VWERASE) {
        while (this.line.length > 0 && this.line[this.line.length - 1]?.byte === 0x20) erase()
        while (this.line.length > 0 && this.line[this.line.length - 1]?.byte !== 0x20) erase()
      } else if (b === VINTR || b === VQUIT || b === VSUSP) {
        // ISIG without NOFLSH flushes the input and the output queue: the echo not yet sent goes too.
        // SIGTSTP is discarded (login's process group is orphaned); the others end login.
        out.length = 0
        put([0x5e, b + 0x40])
        this.column += 2
        this.flush()
        if (b !== VSUSP) {
          this.killed = true
          break
        }
      } else if (b === VEOF) {
        this.queue.push({ bytes: Buffer.from(this.line.map((c) => c.byte)), eof: true })
        this.line = []
      } else if (this.line.length >= MAX_TTY_LINE) continue
      else if (b === 0x09) {
        const width = 8 - (this.column % 8)
        put(Array.from({ length: width }, () => 0x20))
        this.column += width
        this.line.push({ byte: b, width })
      } else if (b < 0x20) {
        put([0x5e, b + 0x40])
        this.column += 2
        this.line.push({ byte: b, width: 2 })
      } else {
        put([b])
        this.column += 1
        this.line.push({ byte: b, width: 1 })
      }
    }
    return Buffer.from(out)
  }
}

/** telnetd's writer doubles every 0xFF it sends (RFC 854: IAC IAC is a data 255). */
export const iacEscape = (b: Buffer): Buffer => {
  if (!b.includes(0xff)) return b
  const out: Array<number> = []
  for (const x of b) {
    out.push(x)
    if (x === 0xff) out.push(0xff)
  }
  return Buffer.from(out)
}
