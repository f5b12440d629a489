import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { parseHeaders, simhash64, summarize } from "../../src/honeypots/smtp/Message.js"
import { decodePlain } from "../../src/honeypots/smtp/Sasl.js"

const MIME = [
  "From: Billing <billing@corp.example>",
  "To: victim@target.org",
  "Subject: Invoice",
  "Received-SPF: pass (domain of corp.example designates 1.2.3.4 as permitted sender)",
  "DKIM-Signature: v=1; a=rsa-sha256; d=corp.example",
  'Content-Type: multipart/mixed; boundary="XYZ"',
  "",
  "--XYZ",
  "Content-Type: text/html",
  "",
  "<html><script>var b=new Blob([atob('TVqQ')]);</script><a href=\"https://evil.example/x\">x</a></html>",
  "--XYZ",
  'Content-Type: application/zip; name="invoice.zip"',
  'Content-Disposition: attachment; filename="invoice.zip"',
  "Content-Transfer-Encoding: base64",
  "",
  "UEsDBBQAAAAIAA==",
  "--XYZ--",
  ""
].join("\r\n")

describe("smtp message summary", () => {
  it("extracts headers, attachments, base64 size, URLs, SPF/DKIM and HTML smuggling", () => {
    const s = summarize(Buffer.from(MIME))
    expect(s).toMatchObject({
      subject: "Invoice",
      from_hdr: "Billing <billing@corp.example>",
      dkim_signed: true,
      spf_pass: true,
      attachment_count: 1,
      attachments_json: '[{"filename":"invoice.zip","content_type":"application/zip"}]',
      urls_json: '["https://evil.example/x"]',
      body_base64_bytes: 16,
      html_smuggling: true
    })
    expect(s.body_simhash).toMatch(/^[0-9a-f]{16}$/)
  })

  it("simhash: identical text → identical hash, a small edit → a close hash", () => {
    const a = simhash64("please wire the funds to the new account before friday, regards finance team")
    const b = simhash64("please wire the funds to the new account before monday, regards finance team")
    const dist = [...(BigInt(`0x${a}`) ^ BigInt(`0x${b}`)).toString(2)].filter((c) => c === "1").length
    expect(simhash64("please wire the funds to the new account before friday, regards finance team")).toBe(a)
    expect(dist).toBeLessThan(20)
  })

  it("never throws on arbitrary bytes (headers, MIME, SASL PLAIN)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.string({ maxLength: 200 }), (bytes, text) => {
        const buf = Buffer.from(bytes)
        const s = summarize(buf)
        expect(typeof s.body_simhash).toBe("string")
        parseHeaders(Buffer.from(text, "latin1"))
        const plain = decodePlain(text)
        if (plain !== undefined) expect(typeof plain.username).toBe("string")
      }),
      { numRuns: 2000 }
    )
  })
})
