/**
 * A tiny line discipline over the fake shell for pty-style transports (ssh pty, telnet): echo,
 * backspace, ^C, ^D, escape sequences swallowed, CR/LF ends a line. Pure: bytes in, bytes out.
 */
import type { Shell, ShellCommand } from "./Shell.js"

export interface TerminalOutput {
  readonly output: string
  readonly commands: ReadonlyArray<ShellCommand>
  readonly exit: boolean
}

const MAX_EDIT_LINE = 16 * 1024

export const crlf = (s: string): string => s.replace(/\r?\n/g, "\r\n")

export class Terminal {
  readonly shell: Shell
  private line = ""
  private secret = false
  private lastWasCr = false
  private escape: "none" | "esc" | "csi" = "none"

  constructor(shell: Shell) {
    this.shell = shell
  }

  /** The text to send when the session starts (after the motd). */
  start(): string {
    return this.shell.prompt()
  }

  feed(data: string): TerminalOutput {
    let out = ""
    const commands: Array<ShellCommand> = []
    for (const ch of data) {
      if (this.escape !== "none") {
        if (this.escape === "esc") this.escape = ch === "[" || ch === "O" ? "csi" : "none"
        else if (/[A-Za-z~]/.test(ch)) this.escape = "none"
        continue
      }
      if (ch === "\n" && this.lastWasCr) {
        this.lastWasCr = false
        continue
      }
      this.lastWasCr = ch === "\r"
      if (ch === "\r" || ch === "\n") {
        out += "\r\n"
        const line = this.line
        this.line = ""
        const result = this.shell.run(line)
        this.secret = result.secretPrompt
        commands.push(...result.commands)
        out += crlf(result.output)
        if (result.exit) return { output: `${out}logout\r\n`, commands, exit: true }
        if (!result.secretPrompt) out += this.shell.prompt()
      } else if (ch === "\x7f" || ch === "\b") {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1)
          if (!this.secret) out += "\b \b"
        }
      } else if (ch === "\x03") {
        this.line = ""
        this.secret = false
        out += `^C\r\n${this.shell.prompt()}`
      } else if (ch === "\x04") {
        if (this.line === "" && !this.secret) return { output: `${out}logout\r\n`, commands, exit: true }
      } else if (ch === "\x15") {
        if (!this.secret) out += "\b \b".repeat(this.line.length)
        this.line = ""
      } else if (ch === "\x1b") {
        this.escape = "esc"
      } else if (ch === "\t") {
        // No completion: a real bash would ring the bell when nothing matches.
        out += "\x07"
      } else if (ch >= " ") {
        if (this.line.length < MAX_EDIT_LINE) {
          this.line += ch
          if (!this.secret) out += ch
        }
      }
    }
    return { output: out, commands, exit: false }
  }
}
