import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { hash12, ja4h } from "../../src/honeypots/http/Ja4h.js"

/** `Name: value` lines → node's rawHeaders shape. */
const raw = (lines: ReadonlyArray<string>): Array<string> =>
  lines.flatMap((l) => {
    const i = l.indexOf(":", 1)
    return [l.slice(0, i), l.slice(i + 1).trim()]
  })

// FoxIO-LLC/ja4 rust/ja4/src/http.rs `test_http_stats_into_out`: a Chrome 114 request to cnn.com.
const CNN = [
  "Host: www.cnn.com",
  "Cookie: FastAB=0=6859,1=8174,2=4183,3=3319,4=3917,5=2557,6=4259,7=6070,8=0804,9=6453,10=1942,11=4435,12=4143,13=9445,14=6957,15=8682,16=1885,17=1825,18=3760,19=0929; sato=1; countryCode=US; stateCode=VA; geoData=purcellville|VA|20132|US|NA|-400|broadband|39.160|-77.700|511; usprivacy=1---; umto=1; _dd_s=logs=1&id=b5c2d770-eaba-4847-8202-390c4552ff9a&created=1686159462724&expire=1686160422726",
  "Sec-Ch-Ua: ",
  "Sec-Ch-Ua-Mobile: ?0",
  "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.110 Safari/537.36",
  'Sec-Ch-Ua-Platform: ""',
  "Accept: */*",
  "Sec-Fetch-Site: same-origin",
  "Sec-Fetch-Mode: cors",
  "Sec-Fetch-Dest: empty",
  "Sec-Fetch-Mode: cors",
  "Sec-Fetch-Dest: empty",
  "Referer: https://www.cnn.com/",
  "Accept-Encoding: gzip, deflate",
  "Accept-Language: en-US,en;q=0.9"
]

describe("JA4H", () => {
  it("reproduces FoxIO's reference vectors", () => {
    expect(hash12("551d0f,551d25,551d11")).toBe("aae71e8db6d7")
    expect(hash12("")).toBe("000000000000")
    const r = ja4h({ method: "GET", httpVersion: "1.1", rawHeaders: raw(CNN) })
    expect(r.ja4h).toBe("ge11cr13enus_88d2d584d47f_0f2659b474bf_161698816dab")
    expect(r.acceptLanguage).toBe("en-US,en;q=0.9")
    expect(r.cookie).toMatch(/^FastAB=0=6859,.*expire=1686160422726$/)
    expect(r.headersOrdered).toEqual(CNN.map((l) => l.slice(0, l.indexOf(":")).toLowerCase()))
  })

  it("a request without headers, cookies or language; HTTP/1.0 and HTTP/2 version codes", () => {
    expect(ja4h({ method: "GET", httpVersion: "1.0", rawHeaders: [] }).ja4h).toBe(
      "ge10nn000000_000000000000_000000000000_000000000000"
    )
    const h2 = ja4h({
      method: "POST",
      httpVersion: "2.0",
      rawHeaders: [
        ":method",
        "POST",
        ":authority",
        "x",
        ":scheme",
        "https",
        ":path",
        "/",
        "user-agent",
        "curl/8",
        "accept",
        "*/*"
      ]
    })
    // Pseudo-headers count neither in the number nor in the hash (FoxIO ja4 issue #306), but they
    // stay in headers_ordered, where their order is itself a client trait.
    expect(h2.ja4h).toBe(`po20nn020000_${hash12("user-agent,accept")}_000000000000_000000000000`)
    expect(h2.headersOrdered).toEqual([":method", ":authority", ":scheme", ":path", "user-agent", "accept"])
  })

  it("h2 split cookie fields are one cookie list; names and pairs are sorted; language is cut or padded to 4", () => {
    const r = ja4h({
      method: "PROPFIND",
      httpVersion: "2.0",
      rawHeaders: [
        "cookie",
        "b=2",
        "accept-language",
        " da, en-GB;q=0.8",
        "cookie",
        "a=1;c=3",
        "referer",
        "x"
      ]
    })
    expect(r.ja4h).toBe(
      `pr20cr01da00_${hash12("accept-language")}_${hash12("a,b,c")}_${hash12("a=1,b=2,c=3")}`
    )
    expect(r.cookie).toBe("b=2; a=1;c=3")
    expect(
      ja4h({ method: "GET", httpVersion: "1.1", rawHeaders: ["Accept-Language", "zh-Hant-TW"] }).ja4h.slice(
        0,
        12
      )
    ).toBe("ge11nn01zhha")
  })

  it("counts at most 99 headers and keeps header-name case in the hash", () => {
    const many = Array.from({ length: 120 }, (_, i) => [`X-H${i}`, "v"]).flat()
    const r = ja4h({ method: "GET", httpVersion: "1.1", rawHeaders: many })
    expect(r.ja4h.slice(0, 12)).toBe("ge11nn990000")
    expect(r.ja4h.split("_")[1]).toBe(hash12(Array.from({ length: 120 }, (_, i) => `X-H${i}`).join(",")))
    expect(ja4h({ method: "GET", httpVersion: "1.1", rawHeaders: ["host", "a"] }).ja4h).not.toBe(
      ja4h({ method: "GET", httpVersion: "1.1", rawHeaders: ["Host", "a"] }).ja4h
    )
  })

  it("property: any method, version and header list gives a well-formed fingerprint", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 12 }),
        fc.string({ unit: "binary", maxLength: 6 }),
        fc.array(fc.string({ unit: "binary", maxLength: 40 }), { maxLength: 300 }),
        (method, httpVersion, rawHeaders) => {
          const r = ja4h({ method, httpVersion, rawHeaders })
          // Method and language are taken as sent (FoxIO does not sanitise them), so anchor on the hashes.
          const m = /^(.{12})_([0-9a-f]{12})_([0-9a-f]{12})_([0-9a-f]{12})$/su.exec(r.ja4h)
          expect(m).not.toBeNull()
          const a = [...m![1]!]
          expect(a.slice(2, 4).join("")).toMatch(/^\d\d$/)
          expect(a.slice(4, 6).join("")).toMatch(/^[cn][rn]$/)
          expect(a.slice(6, 8).join("")).toMatch(/^\d\d$/)
          expect(r.headersOrdered.length).toBe(Math.floor(rawHeaders.length / 2))
        }
      ),
      { numRuns: 2000 }
    )
  })
})
