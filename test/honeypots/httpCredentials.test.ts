import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  classifyAuthorization,
  extractFormCredentials,
  parseDigestParams
} from "../../src/honeypots/http/Credentials.js"

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")

describe("http credential extraction (spec §0)", () => {
  it("Basic splits at the first colon; malformed base64 or no colon yields nothing", () => {
    expect(classifyAuthorization(`Basic ${b64("alice:pa:ss")}`)).toEqual({
      principal: "alice",
      secret_printable: "pa:ss",
      secret_b64: b64("pa:ss"),
      secret_kind: "plaintext"
    })
    expect(classifyAuthorization("Basic !!!")).toBeUndefined()
    expect(classifyAuthorization(`Basic ${b64("nocolon")}`)).toBeUndefined()
    expect(classifyAuthorization("Negotiate YIIB")).toBeUndefined()
  })

  it("Bearer/Token → http_bearer with no principal; Digest → username + response", () => {
    expect(classifyAuthorization("bearer abc.def")).toMatchObject({
      principal: null,
      secret_printable: "abc.def",
      secret_kind: "http_bearer"
    })
    expect(classifyAuthorization("Token t0k")).toMatchObject({
      principal: null,
      secret_printable: "t0k",
      secret_kind: "http_bearer"
    })
    expect(
      classifyAuthorization(
        'Digest username="Mufasa", realm="x", uri="/", response="6629fae49393a05397450978507c4ef1", qop=auth'
      )
    ).toMatchObject({
      principal: "Mufasa",
      secret_printable: "6629fae49393a05397450978507c4ef1",
      secret_kind: "http_digest_md5"
    })
    expect(parseDigestParams('a="q\\"x", b=plain, a=second').get("a")).toBe('q"x')
  })

  it("forms: only x-www-form-urlencoded, first matching key (case-insensitive, url-decoded), secret required", () => {
    expect(
      extractFormCredentials(
        "USER_LOGIN=bob&Pwd=s%26cret",
        "application/x-www-form-urlencoded; charset=UTF-8"
      )
    ).toMatchObject({
      principal: "bob",
      secret_printable: "s&cret"
    })
    // Key priority follows the spec's list order (`pass` before `pwd`), not the body's order.
    expect(
      extractFormCredentials("pwd=second&pass=first&login=l&username=u", "application/x-www-form-urlencoded")
    ).toMatchObject({
      principal: "u",
      secret_printable: "first"
    })
    expect(extractFormCredentials("password=only", "application/x-www-form-urlencoded")).toMatchObject({
      principal: null,
      secret_printable: "only"
    })
    expect(extractFormCredentials("user=bob", "application/x-www-form-urlencoded")).toBeUndefined()
    expect(extractFormCredentials("password=x", "application/json")).toBeUndefined()
    expect(extractFormCredentials("password=%E0%A4%A", "application/x-www-form-urlencoded")).toMatchObject({
      secret_printable: "%E0%A4%A"
    })
  })

  it("property: never throws; Basic round-trips any user (without ':') and any password", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.string({ unit: "binary", maxLength: 300 }),
        (header, body) => {
          classifyAuthorization(header)
          extractFormCredentials(body, "application/x-www-form-urlencoded")
        }
      ),
      { numRuns: 5000 }
    )
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((u) => !u.includes(":")),
        fc.string({ maxLength: 40 }),
        (user, pass) => {
          const c = classifyAuthorization(`Basic ${b64(`${user}:${pass}`)}`)
          expect(c?.principal).toBe(user)
          expect(Buffer.from(c?.secret_b64 ?? "", "base64").toString("utf8")).toBe(pass)
        }
      ),
      { numRuns: 2000 }
    )
  })
})
