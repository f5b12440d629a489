/** A scripted telnet client for the telnet tests (Debian's telnet is not installed here). */
import * as net from "node:net"

/**
 * A scripted telnet client: answers every DO with WONT and WILL with DONT (except the server's
 * ECHO/SGA, which a real client accepts), strips IAC sequences, and plays `[expect, send]` steps.
 */
export const telnetScript = (
  port: number,
  steps: ReadonlyArray<readonly [string, string]>,
  timeoutMs = 10_000
) =>
  new Promise<{ text: string; negotiation: Array<number>; closed: boolean }>((resolve) => {
    const s = net.connect(port, "127.0.0.1")
    let text = ""
    const negotiation: Array<number> = []
    let step = 0
    let seen = 0
    let closed = false
    const done = () => {
      clearTimeout(timer)
      s.destroy()
      resolve({ text, negotiation, closed })
    }
    const timer = setTimeout(done, timeoutMs)
    const advance = () => {
      while (step < steps.length) {
        const [want, send] = steps[step]!
        const at = text.indexOf(want, seen)
        if (at < 0) return
        seen = at + want.length
        step++
        s.write(send)
      }
    }
    s.on("data", (d: Buffer) => {
      for (let i = 0; i < d.length; i++) {
        if (d[i] === 255 && i + 2 < d.length + 1 && d[i + 1] !== undefined && d[i + 1]! >= 251) {
          const verb = d[i + 1]!
          const opt = d[i + 2]!
          negotiation.push(verb, opt)
          if (verb === 253 && opt === 31)
            s.write(Buffer.from([255, 251, 31, 255, 250, 31, 0, 120, 0, 40, 255, 240]))
          else if (verb === 253) s.write(Buffer.from([255, 252, opt]))
          else if (verb === 251) s.write(Buffer.from([255, 253, opt]))
          i += 2
        } else text += String.fromCharCode(d[i]!)
      }
      advance()
    })
    s.on("close", () => {
      closed = true
      done()
    })
    s.on("error", done)
  })
