// The http and https fidelity tests' shared corpus and normaliser: Apache's error cases, keep-alive and
// pipelining, and a browser-like GET, sent to Debian's Apache and to the emulator (plain or inside TLS).
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import { type CorpusProbe, named } from "./diff.js"
import { nmapProbes } from "./probe.js"

export const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"

export const BROWSER = [
  "GET / HTTP/1.1",
  "Host: web01",
  "Connection: keep-alive",
  "Upgrade-Insecure-Requests: 1",
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "Accept-Encoding: gzip, deflate",
  "Accept-Language: en-US,en;q=0.9",
  "",
  ""
].join("\r\n")

export const HTTP_PROBES = [
  "GET / HTTP/1.0\r\n\r\n",
  "HEAD / HTTP/1.0\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: web01\r\n\r\n",
  "GET /index.html HTTP/1.0\r\n\r\n",
  "GET //index.html?x=1 HTTP/1.0\r\n\r\n",
  "GET /nope HTTP/1.0\r\n\r\n",
  "GET /nope HTTP/1.1\r\nHost: foo.example:8088\r\n\r\n",
  "HEAD /nope HTTP/1.0\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: web01\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 17\r\n\r\nuser=a&pass=b&x=1",
  "POST / HTTP/1.1\r\nHost: web01\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  "OPTIONS / HTTP/1.0\r\n\r\n",
  "OPTIONS /nope HTTP/1.1\r\nHost: web01\r\n\r\n",
  "OPTIONS * HTTP/1.0\r\n\r\n",
  "TRACE / HTTP/1.0\r\n\r\n",
  "TRACE / HTTP/1.1\r\nHost: web01\r\n\r\n",
  "DELETE / HTTP/1.0\r\n\r\n",
  "PUT /x.txt HTTP/1.1\r\nHost: web01\r\nContent-Length: 2\r\n\r\nhi",
  "PROPFIND / HTTP/1.0\r\n\r\n",
  "FOO / HTTP/1.0\r\n\r\n",
  "FOO / HTTP/1.1\r\nHost: web01\r\n\r\n",
  "get / HTTP/1.0\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.0\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  "GET /\r\n",
  "GET /nope\r\n",
  "POST /\r\n",
  "HEAD /\r\n",
  "GET / HTTP/1.1\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
  "GET / HTTP/2.0\r\n\r\n",
  "GET / HTTP/1.2\r\n\r\n",
  "GET / FOO/1.0\r\n\r\n",
  "GET  / HTTP/1.0\r\n\r\n",
  "GET / HTTP/1.0\n\n",
  "GET nope HTTP/1.0\r\n\r\n",
  "GET /../../etc/passwd HTTP/1.0\r\n\r\n",
  "GET /%2e%2e/secret.txt HTTP/1.0\r\n\r\n",
  "GET /..%2fsecret.txt HTTP/1.0\r\n\r\n",
  "GET /a/../index.html HTTP/1.0\r\n\r\n",
  "GET /%zz HTTP/1.0\r\n\r\n",
  "GET /a%2fb HTTP/1.0\r\n\r\n",
  "GET http://web01/ HTTP/1.1\r\nHost: other\r\n\r\n",
  `GET /${"a".repeat(8200)} HTTP/1.0\r\n\r\n`,
  `GET / HTTP/1.0\r\nX-Long: ${"b".repeat(8200)}\r\n\r\n`,
  `GET / HTTP/1.0\r\n${Array.from({ length: 101 }, (_, i) => `X-${i}: y\r\n`).join("")}\r\n`,
  "GET / HTTP/1.0\r\nfoo\r\n\r\n",
  "GET / HTTP/1.0\r\n X: y\r\n\r\n",
  "GET / HTTP/1.0\r\nX : y\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: web01\r\nContent-Length: abc\r\n\r\n",
  "\r\n\r\nGET /nope HTTP/1.0\r\n\r\n",
  "\r\n\r\n",
  "hello\r\n\r\n",
  "\x16\x03\x01\x00\x05hello\r\n\r\n",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "GET /x HTTP/1.1\r\nHost: web01\r\n\r\nGET /y HTTP/1.1\r\nHost: web01\r\nConnection: close\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: web01\r\nRange: bytes=0-9\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: web01\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
  "GET /nope HTTP/1.1\r\nHost: web01\r\nAccept-Encoding: gzip\r\n\r\n",
  BROWSER
]

/**
 * What legitimately differs: Date, Last-Modified and ETag (times; the emulator's page has its own,
 * stable mtime); the order of Allow's methods (Apache prints its hash's order, which changes from one
 * process start to the next; the emulator's is fixed per decky); and a gzip body's deflate bytes and
 * so its Content-Length (node's bundled zlib is Chromium's fork, whose deflate output differs from
 * Debian's zlib by a few bytes: the body is compared inflated).
 */
export const normalise = (b: Buffer): string => {
  const text = b.toString("latin1")
  const split = text.indexOf("\r\n\r\n")
  const gzipped = split > 0 && /\r\nContent-Encoding: gzip\r\n/.test(text.slice(0, split))
  const body = gzipped ? `<gzip of ${JSON.stringify(inflate(b.subarray(split + 4)))}>` : undefined
  return (body === undefined ? text : text.slice(0, split + 4) + body)
    .replace(/^Date: .*$/gm, "Date: <date>")
    .replace(/^Last-Modified: .*$/gm, "Last-Modified: <date>")
    .replace(/^ETag: "[0-9a-f]+-[0-9a-f]+(-gzip)?"/gm, 'ETag: "<etag>$1"')
    .replace(/^Allow: (.+)$/gm, (_, list: string) => `Allow: ${list.split(",").sort().join(",")}`)
    .replace(/(Content-Encoding: gzip\r\nContent-Length: )\d+/, "$1<n>")
}

const inflate = (b: Buffer): string => {
  try {
    return gunzipSync(b).toString("latin1")
  } catch {
    return `<not gzip: ${b.toString("hex")}>`
  }
}

/** nmap's probes for `port`, then ours. */
export const corpus = (port: number): Array<CorpusProbe> => [
  ...nmapProbes(readFileSync(PROBES_FILE, "utf8"), port),
  ...named(HTTP_PROBES),
  { name: "browser GET", bytes: Buffer.from(BROWSER) }
]

/**
 * A TLS server flight with what differs by nature masked: the ServerHello's random and session id,
 * and the Certificate message (another key, serial and dates); every other byte (versions, the
 * chosen suite, extensions, record and message framing) is kept. Anything that is not a TLS
 * handshake goes through `normalise`.
 */
export const normaliseTls = (b: Buffer): string => {
  if (b.length < 5 || b[0] !== 0x16) return normalise(b)
  const out: Array<string> = []
  let handshake = Buffer.alloc(0)
  for (let i = 0; i + 5 <= b.length; ) {
    const type = b[i] ?? 0
    const len = b.readUInt16BE(i + 3)
    const body = b.subarray(i + 5, i + 5 + len)
    out.push(`record ${type} ${b.subarray(i + 1, i + 3).toString("hex")}`)
    if (type === 0x16) handshake = Buffer.concat([handshake, body])
    else out.push(body.toString("hex"))
    i += 5 + len
  }
  for (let j = 0; j + 4 <= handshake.length; ) {
    const type = handshake[j] ?? 0
    const len = handshake.readUIntBE(j + 1, 3)
    const msg = Buffer.from(handshake.subarray(j + 4, j + 4 + len))
    if (type === 2 && msg.length >= 35) {
      msg.fill(0, 2, 34)
      const sid = msg[34] ?? 0
      msg.fill(0, 35, 35 + sid)
      out.push(`ServerHello ${msg.toString("hex")}`)
    } else if (type === 11) out.push("Certificate <masked>")
    else out.push(`handshake ${type} ${msg.toString("hex")}`)
    j += 4 + len
  }
  return out.join("\n")
}
