// The smb differential corpus beyond nmap's own probes (issue 14): NetBIOS session requests (ours, another
// name), the SMB1 → SMB2 upgrade NEGOTIATEs smbclient and Windows clients send, an SMB2 NEGOTIATE, and the
// malformed frames a fuzzer sends (bad NBSS type, oversized length, short header, non-SMB bytes); and the
// normaliser the differential test compares replies with.
import { encodeName } from "../../src/honeypots/smb/Nbss.js"
import type { CorpusProbe } from "./diff.js"

const frame = (msg: Buffer) => {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(msg.length, 0)
  return Buffer.concat([h, msg])
}

/** RFC 1002 §4.3.2 SESSION REQUEST from NMAP to `called` (suffix 0x20, the server service). */
export const sessionRequest = (called: string): Buffer => {
  const body = Buffer.concat([encodeName(called), encodeName("NMAP", 0x00)])
  return Buffer.concat([Buffer.from([0x81, 0, 0, body.length]), body])
}

/** An SMB1 NEGOTIATE (MS-CIFS §2.2.4.52.1) with FLAGS2 as smbclient sends it (extended security, Unicode). */
const smb1Negotiate = (dialects: ReadonlyArray<string>, flags2 = 0xc853): Buffer => {
  const names = Buffer.concat(dialects.map((d) => Buffer.from(`\x02${d}\0`, "latin1")))
  const h = Buffer.alloc(35)
  Buffer.from([0xff, 0x53, 0x4d, 0x42, 0x72]).copy(h)
  h[9] = 0x18
  h.writeUInt16LE(flags2, 10)
  h.writeUInt16LE(0xfeff, 26)
  h.writeUInt16LE(names.length, 33)
  return frame(Buffer.concat([h, names]))
}

/**
 * An SMB2 NEGOTIATE (MS-SMB2 §2.2.3) for `dialects`; with `contexts`, the preauth-integrity (SHA-512)
 * and encryption (AES-128-GCM, AES-128-CCM) contexts a 3.1.1 client sends.
 */
export const smb2Negotiate = (dialects: ReadonlyArray<number>, contexts = false): Buffer => {
  const h = Buffer.alloc(64)
  Buffer.from([0xfe, 0x53, 0x4d, 0x42]).copy(h)
  h.writeUInt16LE(64, 4)
  h.writeUInt16LE(1, 14)
  h.writeUInt32LE(0xfeff, 32)
  const body = Buffer.alloc(36 + dialects.length * 2)
  body.writeUInt16LE(36, 0)
  body.writeUInt16LE(dialects.length, 2)
  body.writeUInt16LE(0x01, 4)
  for (const [i, d] of dialects.entries()) body.writeUInt16LE(d, 36 + i * 2)
  if (!contexts) return frame(Buffer.concat([h, body]))
  const at = 64 + body.length
  const pad = Buffer.alloc((8 - (at % 8)) % 8)
  const preauth = Buffer.from(`010026000000000001002000${"0100"}${"5a".repeat(32)}`, "hex")
  const encryption = Buffer.from("02000600000000000200020001000000", "hex").subarray(0, 14)
  body.writeUInt32LE(at + pad.length, 28)
  body.writeUInt16LE(2, 32)
  return frame(Buffer.concat([h, body, pad, preauth, Buffer.alloc(2), encryption]))
}

const smb2SessionSetup = (): Buffer => {
  const h = Buffer.alloc(64)
  Buffer.from([0xfe, 0x53, 0x4d, 0x42]).copy(h)
  h.writeUInt16LE(64, 4)
  h.writeUInt16LE(0x0001, 12)
  const body = Buffer.alloc(24)
  body.writeUInt16LE(25, 0)
  return frame(Buffer.concat([h, body]))
}

const SMB1_DIALECTS = [
  "PC NETWORK PROGRAM 1.0",
  "LANMAN1.0",
  "Windows for Workgroups 3.1a",
  "LM1.2X002",
  "LANMAN2.1"
]

/** The probes for both ports; the test sends each to the real server's and the emulator's same port. */
export const smbCorpus: ReadonlyArray<CorpusProbe> = [
  { name: "session request *SMBSERVER", bytes: sessionRequest("*SMBSERVER") },
  { name: "session request FS01", bytes: sessionRequest("FS01") },
  { name: "session request for another name", bytes: sessionRequest("OTHERHOST") },
  { name: "SMB2 NEGOTIATE 2.02–3.11", bytes: smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302, 0x0311]) },
  {
    name: "SMB2 NEGOTIATE 2.02–3.11 with contexts",
    bytes: smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302, 0x0311], true)
  },
  { name: "SMB2 NEGOTIATE 2.02 only", bytes: smb2Negotiate([0x0202]) },
  { name: "SMB2 NEGOTIATE, no known dialect", bytes: smb2Negotiate([0x0100]) },
  {
    name: "SMB1 NEGOTIATE NT LM 0.12 + SMB 2.002 + SMB 2.??? (upgrade)",
    bytes: smb1Negotiate([...SMB1_DIALECTS, "NT LM 0.12", "SMB 2.002", "SMB 2.???"])
  },
  { name: "SMB1 NEGOTIATE NT LM 0.12 + SMB 2.002", bytes: smb1Negotiate(["NT LM 0.12", "SMB 2.002"]) },
  { name: "SMB1 NEGOTIATE NT LM 0.12 only, extended security", bytes: smb1Negotiate(["NT LM 0.12"]) },
  { name: "SMB2 SESSION_SETUP before NEGOTIATE", bytes: smb2SessionSetup() },
  { name: "keep-alive", bytes: Buffer.from("85000000", "hex") },
  { name: "unknown NBSS type", bytes: Buffer.from("99000000", "hex") },
  { name: "oversized NBSS length", bytes: Buffer.from("00ffffffff534d42", "hex") },
  { name: "short SMB2 header", bytes: frame(Buffer.from("fe534d4240000000", "hex")) },
  { name: "not SMB", bytes: frame(Buffer.from("this is not smb at all, not at all".padEnd(70, "."))) },
  { name: "HTTP request", bytes: Buffer.from("GET / HTTP/1.0\r\n\r\n") }
]

/**
 * What a scanner learns from an SMB reply, without what legitimately differs (times, GUIDs, salts,
 * challenges, security blobs, sizes): per NBSS frame its type, and for an SMB message the protocol,
 * command, status and negotiated dialect. Bytes that are not NBSS stay as hex.
 */
export const summarise = (reply: Buffer): string => {
  const out: Array<string> = []
  let offset = 0
  while (offset + 4 <= reply.length) {
    const type = reply[offset]!
    const length = reply.readUInt32BE(offset) & 0x1ffff
    const msg = reply.subarray(offset + 4, offset + 4 + length)
    if (type !== 0) out.push(`nbss 0x${type.toString(16)} ${msg.toString("hex")}`)
    else if (msg.length >= 64 && msg.readUInt32BE(0) === 0xfe534d42) {
      const command = msg.readUInt16LE(12)
      const dialect =
        command === 0 && msg.length >= 70 ? ` dialect=0x${msg.readUInt16LE(68).toString(16)}` : ""
      out.push(`smb2 cmd=${command} status=0x${msg.readUInt32LE(8).toString(16)}${dialect}`)
    } else if (msg.length >= 35 && msg.readUInt32BE(0) === 0xff534d42) {
      const index =
        msg[4] === 0x72 && msg[32]! >= 1 ? ` dialectIndex=0x${msg.readUInt16LE(33).toString(16)}` : ""
      out.push(`smb1 cmd=0x${msg[4]!.toString(16)} status=0x${msg.readUInt32LE(5).toString(16)}${index}`)
    } else out.push(`bytes ${msg.toString("hex")}`)
    offset += 4 + length
  }
  if (offset < reply.length) out.push(`bytes ${reply.subarray(offset).toString("hex")}`)
  return out.join(" | ")
}
