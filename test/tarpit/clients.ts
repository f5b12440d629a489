// The real TCP clients of the tarpit's [netns] and [docker] tests, run as `node -e <code> host port …` inside
// a namespace the test made (`ip netns exec`, `nsenter --net`), and a poll for what the watcher writes.

/** Prints the milliseconds from connect() to the first byte (after sending argv[3], if any), measured itself. */
export const TIMED_CLIENT = `
const net = require("node:net")
const [host, port, send] = process.argv.slice(1)
const t0 = process.hrtime.bigint()
const s = net.connect({ host, port: Number(port) }, () => { if (send) s.write(send) })
s.once("data", () => { process.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e6)); process.exit(0) })
s.on("error", (e) => { process.stderr.write(e.message); process.exit(1) })
setTimeout(() => { process.stderr.write("timeout"); process.exit(2) }, 30000)
`

/** Connects, prints "held" once the banner came, and keeps the connection until it is stopped. */
export const HOLDING_CLIENT = `
const net = require("node:net")
const [host, port] = process.argv.slice(1)
const s = net.connect({ host, port: Number(port) })
s.once("data", () => process.stdout.write("held\\n"))
s.on("error", (e) => { process.stderr.write(e.message); process.exit(1) })
`

/** `probe` until it answers, every 100 ms, for at most `ms`. */
export const waitFor = async <T>(probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> => {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`nothing within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
