// The kernel's TCP tables as the tarpit reads them (src/tarpit/ProcNet.ts): lines the kernel printed, a
// property over every IPv4 address and port (the table's byte order, printed the way the kernel prints
// it), and this process's own loopback connections read back from /proc/<pid>/net/tcp and tcp6.
import * as fs from "node:fs"
import * as net from "node:net"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { establishedPeers, parseTcpTable } from "../../src/tarpit/ProcNet.js"

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, "0")

/** The kernel's `%08X:%04X` of an IPv4 endpoint: the address as one little-endian 32-bit word. */
const v4Endpoint = (ip: string, port: number) => {
  const [a = 0, b = 0, c = 0, d = 0] = ip.split(".").map(Number)
  return `${hex(((d << 24) | (c << 16) | (b << 8) | a) >>> 0, 8)}:${hex(port, 4)}`
}

const line = (local: string, remote: string, state: string) =>
  `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000     0        0 4063 1 0000000000000000 100 0 0 10 0`

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"

describe("/proc/net/tcp tables", () => {
  it("reads the kernel's own lines: listeners, an IPv4 peer, ::1 and an IPv4-mapped IPv6 peer", () => {
    const v4 = [
      HEADER,
      line("0100007F:075B", "00000000:0000", "0A"),
      line("0200A8C0:0016", "6400A8C0:D431", "01"),
      line("0200A8C0:0016", "6500A8C0:D432", "06")
    ].join("\n")
    expect(parseTcpTable(v4)).toEqual([
      { localPort: 1883, remoteIp: "0.0.0.0", remotePort: 0, state: "0A" },
      { localPort: 22, remoteIp: "192.168.0.100", remotePort: 54321, state: "01" },
      { localPort: 22, remoteIp: "192.168.0.101", remotePort: 54322, state: "06" }
    ])
    const v6 = [
      HEADER,
      line("00000000000000000000000001000000:0016", "00000000000000000000000001000000:C000", "01"),
      line("0000000000000000FFFF00000200A8C0:0016", "0000000000000000FFFF00006400A8C0:C001", "01"),
      line("B80D01200000000000000000010000FE:0050", "B80D0120000000000000000002000000:C002", "01")
    ].join("\n")
    expect(parseTcpTable(v6).map((s) => s.remoteIp)).toEqual(["::1", "192.168.0.100", "2001:db8::2"])
    // Only ESTABLISHED, only the tarpitted ports, one entry per (peer, port).
    expect(establishedPeers([...parseTcpTable(v4), ...parseTcpTable(v6)], [22])).toEqual([
      { ip: "192.168.0.100", port: 22 },
      { ip: "::1", port: 22 }
    ])
    expect(parseTcpTable("garbage\n\n  1: nothing here 01")).toEqual([])
  })

  it("every IPv4 endpoint the kernel can print reads back as it was", () => {
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))
    fc.assert(
      fc.property(ip, fc.integer({ min: 1, max: 65535 }), ip, fc.nat(65535), (lip, lport, rip, rport) => {
        const [s] = parseTcpTable(line(v4Endpoint(lip, lport), v4Endpoint(rip, rport), "01"))
        expect(s).toEqual({ localPort: lport, remoteIp: rip, remotePort: rport, state: "01" })
      })
    )
  })

  it("finds this process's own loopback connections in /proc/<pid>/net/tcp and tcp6", async () => {
    const servers: Array<net.Server> = []
    const sockets: Array<net.Socket> = []
    const listen = (host: string) =>
      new Promise<number>((resolve) => {
        const server = net
          .createServer((s) => sockets.push(s))
          .listen(0, host, () => {
            const address = server.address()
            resolve(typeof address === "object" && address !== null ? address.port : 0)
          })
        servers.push(server)
      })
    const connect = (host: string, port: number) =>
      new Promise<void>((resolve, reject) => {
        const s = net.connect({ host, port }, () => resolve())
        s.on("error", reject)
        sockets.push(s)
      })
    try {
      const p4 = await listen("127.0.0.1")
      const p6 = await listen("::1")
      await connect("127.0.0.1", p4)
      await connect("::1", p6)
      const read = (t: string) => fs.readFileSync(`/proc/${process.pid}/net/${t}`, "utf8")
      const peers = establishedPeers(
        [...parseTcpTable(read("tcp")), ...parseTcpTable(read("tcp6"))],
        [p4, p6]
      )
      expect(peers).toContainEqual({ ip: "127.0.0.1", port: p4 })
      expect(peers).toContainEqual({ ip: "::1", port: p6 })
    } finally {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
    }
  })
})
