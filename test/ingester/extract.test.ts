// Bounty extraction on its own (pure): credentials with their hash and column limits, each fingerprint,
// proxy-header leaks and spoofs, artifacts; fields read through each service's typed events.
import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { categorize, classifyUserAgent, makeExtractor, trustedProxies } from "../../src/ingester/index.js"
import {
  ftpFile,
  h2SettingsEvent,
  httpBasicAuth,
  httpRequest,
  ja4hEvent,
  record,
  smtpStored,
  sshFile,
  sshPassword,
  vncVersion
} from "./records.js"

const extractor = makeExtractor({
  trustedProxies: ["198.51.100.0/24", "2001:db8::1", "nonsense", "10.0.0.0/33"]
})
const extract = extractor.extract
const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex")

describe("credentials", () => {
  it("any event with secret_b64: SHA-256 of the decoded bytes, principal, kind, the other fields", () => {
    const x = extract(sshPassword("root", "hunter2"))
    expect(x.problems).toEqual([])
    expect(x.credential).toMatchObject({
      attacker_ip: "203.0.113.7",
      decky_name: "decky-01",
      service: "ssh",
      principal: "root",
      principal_key: "root",
      secret_kind: "plaintext",
      secret_sha256: sha256("hunter2"),
      secret_b64: Buffer.from("hunter2").toString("base64"),
      secret_printable: "hunter2",
      outcome: null,
      attempts: 1
    })
    expect(JSON.parse(x.credential?.fields ?? "")).toEqual({ username: "root", method: "password" })
  })

  it("truncates principal 256 / printable 512 / b64 2048 / kind 32 code points; the hash covers every byte", () => {
    const secret = Buffer.alloc(3000, 0x41)
    const x = extract(
      record({
        service: "custom",
        event_type: "auth",
        fields: {
          principal: "😀".repeat(300),
          secret_printable: "p".repeat(600),
          secret_b64: secret.toString("base64"),
          secret_kind: "k".repeat(40),
          outcome: "failure-and-more-text"
        }
      })
    )
    const c = x.credential
    expect(c).toBeDefined()
    expect(Array.from(c?.principal ?? "")).toHaveLength(256)
    expect(c?.principal).toBe("😀".repeat(256))
    expect(c?.principal_key).toBe(c?.principal)
    expect(c?.secret_printable).toHaveLength(512)
    expect(c?.secret_b64).toHaveLength(2048)
    expect(c?.secret_kind).toHaveLength(32)
    expect(c?.outcome).toBe("failure-and-more")
    expect(c?.secret_sha256).toBe(sha256(secret))
  })

  it("no principal is NULL with an empty key; no kind is plaintext", () => {
    const c = extract(record({ fields: { secret_b64: "", principal: "" } })).credential
    expect(c).toMatchObject({
      principal: null,
      principal_key: "",
      secret_kind: "plaintext",
      secret_sha256: sha256("")
    })
  })

  it("a secret_b64 that is not base64 gives no credential and says why", () => {
    for (const bad of ["abc", "ab$=", "a===", "YQ", " YQ=="]) {
      const x = extract(record({ fields: { secret_b64: bad } }))
      expect(x.credential).toBeUndefined()
      expect(x.problems.join()).toContain("not base64")
    }
  })

  it("an http Basic login is a credential too", () => {
    const c = extract(httpBasicAuth("admin", "s3cret")).credential
    expect(c).toMatchObject({ service: "http", principal: "admin", secret_sha256: sha256("s3cret") })
  })
})

describe("fingerprints", () => {
  it("classifies User-Agents: known tools, browsers, the rest", () => {
    expect(classifyUserAgent("curl/8.4.0")).toBe("curl")
    expect(
      classifyUserAgent("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)")
    ).toBe("nmap")
    expect(classifyUserAgent("python-requests/2.31.0")).toBe("python-requests")
    expect(classifyUserAgent("sqlmap/1.7#stable (https://sqlmap.org)")).toBe("sqlmap")
    expect(classifyUserAgent("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")).toBe(
      "browser"
    )
    expect(classifyUserAgent("my-scanner")).toBe("other")
  })

  it("an http request's User-Agent: identity only (no method or path)", () => {
    const x = extract(httpRequest({ Host: "decky", "User-Agent": "curl/8.4.0" }))
    expect(x.bounties).toEqual([
      expect.objectContaining({
        bounty_type: "fingerprint",
        service: "http",
        payload: { fingerprint_type: "http_useragent", value: "curl/8.4.0", client: "curl" }
      })
    ])
    expect(extract(httpRequest({ Host: "decky" })).bounties).toEqual([])
  })

  it("JA4H, HTTP/2 SETTINGS (hash over order and values, not key order) and the VNC client version", () => {
    expect(
      extract(ja4hEvent("ge11nn030000_4740ae6347b0_000000000000_000000000000")).bounties[0]?.payload
    ).toEqual({
      fingerprint_type: "ja4h",
      ja4h: "ge11nn030000_4740ae6347b0_000000000000_000000000000"
    })
    const a = extract(h2SettingsEvent({ INITIAL_WINDOW_SIZE: 6291456, HEADER_TABLE_SIZE: 65536 }, [1, 4]))
      .bounties[0]
    const b = extract(h2SettingsEvent({ HEADER_TABLE_SIZE: 65536, INITIAL_WINDOW_SIZE: 6291456 }, [1, 4]))
      .bounties[0]
    const c = extract(h2SettingsEvent({ HEADER_TABLE_SIZE: 65536, INITIAL_WINDOW_SIZE: 6291456 }, [4, 1]))
      .bounties[0]
    expect(a?.payload).toEqual(b?.payload)
    expect(a?.payload).toMatchObject({
      fingerprint_type: "http2_settings",
      settings: { HEADER_TABLE_SIZE: 65536, INITIAL_WINDOW_SIZE: 6291456 },
      frame_order: [1, 4]
    })
    expect(JSON.stringify(a?.payload)).toBe(JSON.stringify(b?.payload))
    expect(c?.payload).not.toEqual(a?.payload)
    expect(a?.service).toBe("https")
    expect(extract(vncVersion("RFB 003.008")).bounties[0]?.payload).toEqual({
      fingerprint_type: "vnc_client_version",
      value: "RFB 003.008"
    })
  })

  it("a renamed field is a problem, not a silent miss", () => {
    const x = extract(
      record({ service: "vnc", event_type: "version", fields: { clientversion: "RFB 003.008" } })
    )
    expect(x.bounties).toEqual([])
    expect(x.problems.join()).toMatch(/vnc\/version: fields do not decode/)
    const y = extract(record({ service: "http", event_type: "request", fields: { user_agent: "curl/8" } }))
    expect(y.problems).toHaveLength(1)
  })

  it("other events yield nothing", () => {
    expect(extract(record())).toEqual({ credential: undefined, bounties: [], problems: [] })
    expect(
      extract(record({ service: "http", event_type: "http_access", fields: { x: "1" } })).bounties
    ).toEqual([])
  })
})

describe("proxy headers", () => {
  const leakOf = (headers: Record<string, string>, source = "203.0.113.7") =>
    extract(httpRequest(headers, { attacker_ip: source })).bounties.filter(
      (b) =>
        b.bounty_type === "ip_leak" ||
        (b.bounty_type === "fingerprint" && b.payload.fingerprint_type === "spoofed_source")
    )

  it("a public address in X-Forwarded-For (left-most) is an ip_leak with every proxy header seen", () => {
    expect(leakOf({ "x-forwarded-for": "93.184.216.34, 10.0.0.1", "X-Real-IP": "10.0.0.1" })).toEqual([
      expect.objectContaining({
        bounty_type: "ip_leak",
        attacker_ip: "203.0.113.7",
        payload: {
          source_ip: "203.0.113.7",
          source_header: "X-Forwarded-For",
          headers_seen: { "X-Forwarded-For": "93.184.216.34, 10.0.0.1", "X-Real-IP": "10.0.0.1" },
          real_ip_claim: "93.184.216.34"
        }
      })
    ])
  })

  it("RFC 7239 Forwarded wins over the others, bracketed IPv6 with a port included", () => {
    const [b] = leakOf({
      Forwarded: 'for="[2001:4860:4860::8888]:4711";proto=https',
      "X-Forwarded-For": "93.184.216.34"
    })
    expect(b?.payload).toMatchObject({ source_header: "Forwarded", real_ip_claim: "2001:4860:4860::8888" })
    const [v4] = leakOf({ forwarded: "for=93.184.216.34:8080;by=10.0.0.1" })
    expect(v4?.payload).toMatchObject({ real_ip_claim: "93.184.216.34" })
  })

  it("a non-routable claim is a spoofed_source fingerprint with its category", () => {
    expect(leakOf({ "X-Real-IP": "127.0.0.1" })[0]?.payload).toMatchObject({
      fingerprint_type: "spoofed_source",
      claimed_ip: "127.0.0.1",
      claim_category: "loopback"
    })
    expect(leakOf({ "CF-Connecting-IP": "10.1.2.3" })[0]?.payload).toMatchObject({
      claim_category: "private"
    })
    expect(leakOf({ "True-Client-IP": "::1" })[0]?.payload).toMatchObject({ claim_category: "loopback" })
  })

  it("nothing from a trusted proxy, for the peer's own address, or for an unparseable claim", () => {
    expect(leakOf({ "X-Forwarded-For": "93.184.216.34" }, "198.51.100.20")).toEqual([])
    expect(leakOf({ "X-Forwarded-For": "93.184.216.34" }, "2001:db8::1")).toEqual([])
    expect(leakOf({ "X-Forwarded-For": "203.0.113.7" })).toEqual([])
    expect(leakOf({ "X-Forwarded-For": "unknown, nonsense" })).toEqual([])
    expect(extractor.invalidProxies).toEqual(["nonsense", "10.0.0.0/33"])
  })

  it("categorizes addresses as Python's ipaddress does for the original", () => {
    expect(categorize("0.0.0.0")).toBe("unspecified")
    expect(categorize("169.254.1.1")).toBe("link_local")
    expect(categorize("fe80::1")).toBe("link_local")
    expect(categorize("224.0.0.1")).toBe("multicast")
    expect(categorize("250.1.1.1")).toBe("reserved")
    expect(categorize("192.168.1.1")).toBe("private")
    expect(categorize("fd00::1")).toBe("private")
    expect(categorize("::ffff:10.0.0.1")).toBe("private")
    expect(categorize("2001:db8::5")).toBe("private")
    expect(categorize("100::1")).toBe("reserved")
    expect(categorize("8.8.8.8")).toBe("public")
    expect(categorize("2606:4700::1111")).toBe("public")
    expect(categorize("nope")).toBeUndefined()
    expect(trustedProxies(["1.2.3.4"]).isTrusted("1.2.3.4")).toBe(true)
  })
})

describe("artifacts", () => {
  it("ssh and ftp uploads are file artifacts; stored messages are mail artifacts", () => {
    expect(extract(sshFile("f1.bin")).bounties).toEqual([
      expect.objectContaining({
        bounty_type: "artifact",
        service: "ssh",
        payload: {
          kind: "file",
          stored_as: "f1.bin",
          sha256: "ab".repeat(32),
          size: 1234,
          orig_path: "/tmp/x.sh"
        }
      })
    ])
    expect(extract(ftpFile("f2.bin")).bounties[0]?.payload).toMatchObject({
      kind: "file",
      stored_as: "f2.bin"
    })
    expect(extract(smtpStored("m1.eml")).bounties[0]?.payload).toEqual({
      kind: "mail",
      stored_as: "m1.eml",
      sha256: "ef".repeat(32),
      size: 2048,
      msg_id: "4F2A1B",
      mail_from: "a@example.org",
      rcpt_to: "b@example.net",
      subject: "invoice",
      attachment_count: 1
    })
  })
})
