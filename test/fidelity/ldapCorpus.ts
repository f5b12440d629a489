// The ldap differential corpus beyond nmap's own probes (issue 14): the requests a scanner or a recon tool
// sends an LDAP server before it has credentials, and the malformed input a fuzzer sends. Built here with
// a tiny BER encoder (short-form lengths, as ldapsearch and nmap send them); and the normaliser the
// differential test compares replies with.
import { children, readTlv } from "../../src/honeypots/ntlm/Der.js"
import type { CorpusProbe } from "./diff.js"

const len = (n: number): Buffer =>
  n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
const t = (tag: number, ...parts: ReadonlyArray<Buffer>): Buffer => {
  const v = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([tag]), len(v.length), v])
}
const int = (n: number, tag = 0x02) => t(tag, Buffer.from([n]))
const str = (s: string, tag = 0x04) => t(tag, Buffer.from(s, "utf8"))
const msg = (id: number, op: Buffer, ...controls: ReadonlyArray<Buffer>) => t(0x30, int(id), op, ...controls)
const bind = (id: number, version: number, dn: string, auth: Buffer) =>
  msg(id, t(0x60, int(version), str(dn), auth))
const search = (id: number, base: string, scope: number, filter: Buffer, attrs: ReadonlyArray<string>) =>
  msg(
    id,
    t(
      0x63,
      str(base),
      int(scope, 0x0a),
      int(0, 0x0a),
      int(0),
      int(0),
      t(0x01, Buffer.from([0])),
      filter,
      t(0x30, ...attrs.map((a) => str(a)))
    )
  )
const present = (attr: string) => str(attr, 0x87)
const extended = (id: number, oid: string) => msg(id, t(0x77, str(oid, 0x80)))

export const ldapCorpus: ReadonlyArray<CorpusProbe> = [
  { name: "anonymous bind v3", bytes: bind(1, 3, "", str("", 0x80)) },
  { name: "anonymous bind v2", bytes: bind(1, 2, "", str("", 0x80)) },
  {
    name: "simple bind, wrong password",
    bytes: bind(1, 3, "cn=admin,dc=corp,dc=local", str("Secret123", 0x80))
  },
  {
    name: "simple bind, unknown DN",
    bytes: bind(1, 3, "cn=nobody,dc=corp,dc=local", str("Secret123", 0x80))
  },
  { name: "simple bind, UPN", bytes: bind(1, 3, "administrator@corp.local", str("Secret123", 0x80)) },
  { name: "simple bind, DN without password", bytes: bind(1, 3, "cn=admin,dc=corp,dc=local", str("", 0x80)) },
  { name: "simple bind, version 4", bytes: bind(1, 4, "", str("", 0x80)) },
  { name: "SASL bind GSSAPI", bytes: bind(1, 3, "", t(0xa3, str("GSSAPI"))) },
  { name: "SASL bind unknown mechanism", bytes: bind(1, 3, "", t(0xa3, str("NOPE-MECH"))) },
  {
    name: "rootDSE namingContexts",
    bytes: search(2, "", 0, present("objectClass"), ["namingContexts"])
  },
  {
    name: "subtree search before bind",
    bytes: search(2, "dc=corp,dc=local", 2, present("objectClass"), [])
  },
  { name: "StartTLS", bytes: extended(3, "1.3.6.1.4.1.1466.20037") },
  { name: "Who am I?", bytes: extended(3, "1.3.6.1.4.1.4203.1.11.3") },
  { name: "unknown extended operation", bytes: extended(3, "1.2.3.4.5.6.7") },
  { name: "abandon", bytes: msg(4, int(1, 0x50)) },
  { name: "unbind", bytes: msg(5, t(0x42)) },
  { name: "unknown protocolOp [APPLICATION 30]", bytes: msg(6, t(0x7e, int(0))) },
  { name: "delete before bind", bytes: msg(7, str("cn=x,dc=corp,dc=local", 0x4a)) },
  { name: "LDAPMessage without a protocolOp", bytes: t(0x30, int(8)) },
  { name: "truncated BER", bytes: Buffer.from("300c020101600702", "hex") },
  { name: "not a SEQUENCE", bytes: Buffer.from("040568656c6c6f", "hex") },
  { name: "oversized length (4 GiB)", bytes: Buffer.from("3084ffffffff020101", "hex") },
  { name: "indefinite length", bytes: Buffer.from("3080020101420000000", "hex") },
  { name: "HTTP request", bytes: Buffer.from("GET / HTTP/1.0\r\n\r\n") },
  {
    name: "two binds pipelined",
    bytes: Buffer.concat([bind(1, 3, "", str("", 0x80)), bind(2, 3, "", str("", 0x80))])
  }
]

/**
 * What a scanner learns from an LDAP reply, without what AD and OpenLDAP encode differently by design:
 * per LDAPMessage its id, protocolOp, resultCode and (for an ExtendedResponse) responseName; a
 * SearchResultEntry is `entry <dn>`. Bytes that are not LDAP stay as hex.
 */
export const summarise = (reply: Buffer): string => {
  const out: Array<string> = []
  let offset = 0
  while (offset < reply.length) {
    const msg = readTlv(reply, offset)
    const parts = msg === undefined || msg.tag !== 0x30 ? undefined : children(msg.value, 4)
    const op = parts?.[1]
    const fields = op === undefined ? undefined : children(op.value, 64)
    if (msg === undefined || parts === undefined || op === undefined || fields === undefined)
      return [...out, `bytes ${reply.subarray(offset).toString("hex")}`].join(" | ")
    const id = parts[0]!.value.readUIntBE(0, Math.min(parts[0]!.value.length, 6))
    if (op.tag === 0x64) out.push(`${id} entry ${JSON.stringify(fields[0]?.value.toString("utf8") ?? "")}`)
    else {
      const name = fields.find((f) => f.tag === 0x8a)
      out.push(
        `${id} op=0x${op.tag.toString(16)} code=${fields[0]?.value[0] ?? "?"}${name === undefined ? "" : ` name=${name.value.toString("latin1")}`}`
      )
    }
    offset += msg.totalLength
  }
  return out.join(" | ")
}
