/** Generated HTTP/1.x requests for the http and https fuzz tests: mostly plausible, some hostile. */
import fc from "fast-check"

const b64 = (s: string) => Buffer.from(s).toString("base64")

const header = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.constantFrom(
      "Host: target",
      `Authorization: Basic ${b64("admin:admin")}`,
      "Authorization: Basic !!!notbase64",
      "Authorization: Bearer eyJhbGciOi.x.y",
      'Authorization: Digest username="bob", realm="r", nonce="n", uri="/", response="6629fae49393a05397450978507c4ef1"',
      "Authorization: Digest response=",
      "Content-Type: application/x-www-form-urlencoded",
      "Content-Type: application/x-www-form-urlencoded; charset=UTF-8",
      "User-Agent: () { :; }; /bin/bash -c id",
      "Cookie: PHPSESSID=deadbeef; wp-settings=1",
      "X-Forwarded-For: 10.0.0.1"
    )
  },
  // Framing-breaking headers: each one usually ends the pipelined connection with a 400.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "Content-Length: 5",
      "Content-Length: -1",
      "Content-Length: 99999999999",
      "Transfer-Encoding: chunked",
      "Connection: close",
      "Upgrade: h2c",
      "Expect: 100-continue"
    )
  },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 80 })).map(([k, v]) => `${k}: ${v}`) }
)

const body = fc.oneof(
  fc.constant(""),
  fc.constantFrom("log=admin&pwd=secret", "username=a%20b&password=p%ZZ&x=1", "pma_username=root&pma_password=", "password"),
  fc.string({ unit: "binary", maxLength: 600 }),
  fc.constant("A".repeat(5000))
)

export const request = fc
  .tuple(
    fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND") },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }
    ),
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("/", "/wp-login.php", "/.env", "/../../etc/passwd", "/%00", "*", "/a?b=c#d") },
      { weight: 4, arbitrary: fc.webPath().map((p) => (p === "" ? "/" : p)) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) }
    ),
    fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom("HTTP/1.1", "HTTP/1.0") },
      { weight: 1, arbitrary: fc.constantFrom("HTTP/2.0", "HTTP/9.9", "", "HTTP/1.1 extra") }
    ),
    fc.array(header, { maxLength: 8 }),
    body,
    fc.nat(),
    fc.string({ unit: "binary", maxLength: 4 })
  )
  .map(([method, path, version, headers, b, cut, noise]) => {
    const hasLength = headers.some((h) => /^content-length:/i.test(h)) || headers.some((h) => /^transfer-encoding/i.test(h))
    const text = `${method} ${path} ${version}\r\n${[...headers, ...(hasLength ? [] : [`Content-Length: ${Buffer.byteLength(b, "latin1")}`])].join("\r\n")}\r\n\r\n${b}`
    // One case in ten is damaged at a random offset.
    const at = cut % (text.length * 10)
    return Buffer.from(at < text.length ? text.slice(0, at) + noise + text.slice(at) : text, "latin1")
  })

