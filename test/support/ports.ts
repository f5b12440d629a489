/**
 * Ports a test can hand to a server by number, without racing the kernel.
 *
 * A port taken with `listen(0)` and released is in the ephemeral range: until the server under
 * test binds it, any outgoing connection or `listen(0)` elsewhere in the parallel test run may be
 * given the same number. Ports below the ephemeral range are never handed out implicitly, so a
 * port from here can only collide with another explicit bind.
 */
import { readFileSync } from "node:fs"
import * as net from "node:net"

/** The first port of the kernel's ephemeral range (Linux default 32768). */
const ephemeralLow = (): number => {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 1024 ? low : 32768
  } catch {
    return 32768
  }
}

const tryListen = (port: number) =>
  new Promise<net.Server | undefined>((resolve) => {
    const server = net.createServer((c) => c.destroy())
    server.once("error", () => resolve(undefined))
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(server))
  })

/**
 * A listening server on 127.0.0.1 at a port below the ephemeral range (random, from 20000 up).
 * The caller owns the server; close it to free the port for the code under test.
 */
export const listenBelowEphemeral = async (): Promise<{ server: net.Server; port: number }> => {
  const high = ephemeralLow() - 1
  const low = Math.min(20000, high - 1000)
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1))
    const server = await tryListen(port)
    if (server !== undefined) return { server, port }
  }
  throw new Error(`no free port on 127.0.0.1 in ${low}-${high} after 200 tries`)
}

/** A port below the ephemeral range that was free a moment ago. */
export const freePort = async (): Promise<number> => {
  const { server, port } = await listenBelowEphemeral()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
