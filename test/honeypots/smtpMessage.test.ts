import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { decodePlain, parseHeaders, simhash64, summarize } from "../../src/honeypots/mail/index.js"
import { smtpEvents } from "../../src/honeypots/smtp/Events.js"

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
      attachments_json: [{ filename: "invoice.zip", content_type: "application/zip" }],
      urls_json: ["https://evil.example/x"],
      body_base64_bytes: 16,
      html_smuggling: true
    })
    expect(s.body_simhash).toMatch(/^[0-9a-f]{16}$/)
  })

  it("logs the lists as compact JSON in message_stored", () => {
    const s = summarize(Buffer.from(MIME))
    const fields = Either.getOrThrow(
      smtpEvents.encode({
        _tag: "message_stored",
        msg_id: "X",
        stored_as: "x.eml",
        sha256: "0",
        size: MIME.length,
        truncated: false,
        mail_from: "",
        rcpt_to: "",
        ...s
      })
    )
    expect(fields.attachments_json).toBe('[{"filename":"invoice.zip","content_type":"application/zip"}]')
    expect(fields.urls_json).toBe('["https://evil.example/x"]')
    expect(fields.dkim_signed).toBe("true")
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
