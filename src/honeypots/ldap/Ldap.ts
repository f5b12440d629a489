/**
 * LDAPv3 message codec (RFC 4511 §4): the requests an unauthenticated client sends (Bind, Search,
 * Unbind, Abandon, Extended and the update operations) decoded from bounded BER, and the responses
 * we send back. Decoding failures are typed, never thrown.
 */
import { Either } from "effect"
import { children, readTlv, readUnsigned, type Tlv } from "../ntlm/Der.js"
import { ProtocolViolation } from "../runtime/index.js"

// RFC 4511 §4.2–§4.14 protocolOp tags ([APPLICATION n], constructed unless noted).
export const Op = {
  bindRequest: 0x60,
  bindResponse: 0x61,
  unbindRequest: 0x42,
  searchRequest: 0x63,
  searchResEntry: 0x64,
  searchResDone: 0x65,
  modifyRequest: 0x66,
  addRequest: 0x68,
  delRequest: 0x4a,
  modDNRequest: 0x6c,
  compareRequest: 0x6e,
  abandonRequest: 0x50,
  extendedRequest: 0x77,
  extendedResponse: 0x78
} as const

export const ResultCode = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  authMethodNotSupported: 7,
  invalidDNSyntax: 34,
  invalidCredentials: 49,
  unwillingToPerform: 53
} as const

export const STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
/** RFC 4511 §4.4.1 Notice of Disconnection. */
export const NOTICE_OF_DISCONNECTION_OID = "1.3.6.1.4.1.1466.20036"
/** RFC 4532 "Who am I?", which AD answers since Windows Server 2008. */
export const WHOAMI_OID = "1.3.6.1.4.1.4203.1.11.3"

export type Request =
  | {
      readonly _tag: "Bind"
      readonly version: number
      readonly dn: string
      readonly password: Buffer | undefined
      readonly saslMechanism: string | undefined
    }
  | {
      readonly _tag: "Search"
      readonly base: string
      readonly scope: number
      readonly filter: string
      readonly attributes: ReadonlyArray<string>
    }
  | { readonly _tag: "Unbind" }
  | { readonly _tag: "Abandon" }
  | { readonly _tag: "Extended"; readonly oid: string }
  /** A protocolOp RFC 4511 does not define: a Notice of Disconnection (§4.4.1), then close. */
  | { readonly _tag: "Unknown"; readonly tag: number }
  /** Any other operation: answered with `responseTag` (request tag + 1, RFC 4511 §4.6–§4.10). */
  | { readonly _tag: "Other"; readonly tag: number; readonly responseTag: number }

export interface Message {
  readonly id: number
  readonly request: Request
}

const bad = (reason: string) => Either.left(new ProtocolViolation({ reason }))

/** RFC 4515 string form of a search filter (depth- and length-bounded), for the `search` event. */
export const filterString = (t: Tlv, depth = 0): string => {
  if (depth > 16) return "(…)"
  const text = (b: Buffer) => b.toString("utf8").slice(0, 256)
  const pair = () => {
    const c = children(t.value, 2)
    return c !== undefined && c.length === 2 ? [text(c[0]!.value), text(c[1]!.value)] : ["?", "?"]
  }
  switch (t.tag) {
    case 0xa0:
    case 0xa1: {
      const c = children(t.value, 32) ?? []
      return `(${t.tag === 0xa0 ? "&" : "|"}${c.map((x) => filterString(x, depth + 1)).join("")})`
    }
    case 0xa2: {
      const inner = readTlv(t.value)
      return inner === undefined ? "(!?)" : `(!${filterString(inner, depth + 1)})`
    }
    case 0xa3: {
      const [a, v] = pair()
      return `(${a}=${v})`
    }
    case 0xa4: {
      const c = children(t.value, 2)
      const attr = c?.[0] === undefined ? "?" : text(c[0].value)
      const subs = children(c?.[1]?.value ?? Buffer.alloc(0), 16) ?? []
      const initial = subs.find((s) => s.tag === 0x80)
      const final = subs.find((s) => s.tag === 0x82)
      const any = subs.filter((s) => s.tag === 0x81).map((s) => text(s.value))
      return `(${attr}=${initial ? text(initial.value) : ""}*${any.map((a) => `${a}*`).join("")}${final ? text(final.value) : ""})`
    }
    case 0xa5:
    case 0xa6:
    case 0xa8: {
      const [a, v] = pair()
      return `(${a}${t.tag === 0xa5 ? ">=" : t.tag === 0xa6 ? "<=" : "~="}${v})`
    }
    case 0x87:
      return `(${text(t.value)}=*)`
    default:
      return `(?${t.tag.toString(16)})`
  }
}

/** Decode one complete LDAPMessage (RFC 4511 §4.1.1). */
export const decodeMessage = (frame: Buffer): Either.Either<Message, ProtocolViolation> => {
  const outer = readTlv(frame)
  if (outer === undefined || outer.tag !== 0x30) return bad("not an LDAPMessage SEQUENCE")
  const parts = children(outer.value, 3)
  if (parts === undefined || parts.length < 2 || parts[0]!.tag !== 0x02) return bad("malformed LDAPMessage")
  const id = readUnsigned(parts[0]!.value)
  if (id === undefined || id > 2 ** 31 - 1) return bad("bad messageID")
  const op = parts[1]!
  const fields = op.tag & 0x20 ? children(op.value, 16) : []
  if (fields === undefined) return bad("malformed protocolOp")
  const text = (i: number) => fields[i]?.value.toString("utf8") ?? ""
  switch (op.tag) {
    case Op.bindRequest: {
      if (fields.length < 3) return bad("short BindRequest")
      const version = readUnsigned(fields[0]!.value) ?? 0
      const auth = fields[2]!
      if (auth.tag === 0x80)
        return Either.right({
          id,
          request: { _tag: "Bind", version, dn: text(1), password: auth.value, saslMechanism: undefined }
        })
      if (auth.tag === 0xa3) {
        const sasl = children(auth.value, 2)
        return Either.right({
          id,
          request: {
            _tag: "Bind",
            version,
            dn: text(1),
            password: undefined,
            saslMechanism: sasl?.[0]?.value.toString("utf8") ?? ""
          }
        })
      }
      return bad("unknown bind authentication choice")
    }
    case Op.searchRequest: {
      if (fields.length < 8) return bad("short SearchRequest")
      const attrs = children(fields[7]!.value, 64) ?? []
      return Either.right({
        id,
        request: {
          _tag: "Search",
          base: text(0),
          scope: readUnsigned(fields[1]!.value) ?? 0,
          filter: filterString(fields[6]!),
          attributes: attrs.map((a) => a.value.toString("utf8"))
        }
      })
    }
    case Op.unbindRequest:
      return Either.right({ id, request: { _tag: "Unbind" } })
    case Op.abandonRequest:
      return Either.right({ id, request: { _tag: "Abandon" } })
    case Op.extendedRequest:
      return Either.right({ id, request: { _tag: "Extended", oid: fields[0]?.tag === 0x80 ? text(0) : "" } })
    case Op.modifyRequest:
    case Op.addRequest:
    case Op.modDNRequest:
    case Op.compareRequest:
      return Either.right({ id, request: { _tag: "Other", tag: op.tag, responseTag: op.tag + 1 } })
    case Op.delRequest:
      return Either.right({ id, request: { _tag: "Other", tag: op.tag, responseTag: 0x6b } })
    default:
      return Either.right({ id, request: { _tag: "Unknown", tag: op.tag } })
  }
}

/**
 * Active Directory's BER: every constructed element (SEQUENCE, SET, [APPLICATION n]) carries its length
 * in the 4-byte long form (0x84 + 4 octets), every primitive one in the shortest form. Scanners key on
 * it (nmap's AD signatures start `0\x84\0\0..\x02\x01`), and it is what `wldap32`/`ntdsai` have sent
 * since Windows 2000; OpenLDAP would send the shortest form everywhere.
 */
const adLength = (tag: number, n: number): Buffer => {
  if ((tag & 0x20) !== 0) {
    const b = Buffer.alloc(5)
    b[0] = 0x84
    b.writeUInt32BE(n, 1)
    return b
  }
  if (n < 0x80) return Buffer.from([n])
  const bytes: Array<number> = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

/** One TLV in AD's encoding. */
export const adTlv = (tag: number, ...parts: ReadonlyArray<Uint8Array>): Buffer => {
  const value = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([tag]), adLength(tag, value.length), value])
}

const intContent = (n: number): Buffer => {
  const bytes: Array<number> = []
  let v = n
  do {
    bytes.unshift(v & 0xff)
    v = Math.floor(v / 256)
  } while (v > 0)
  if ((bytes[0]! & 0x80) !== 0) bytes.unshift(0)
  return Buffer.from(bytes)
}
const adInteger = (n: number) => adTlv(0x02, intContent(n))
const adEnumerated = (n: number) => adTlv(0x0a, intContent(n))
const adOctets = (value: string | Uint8Array, tag = 0x04) =>
  adTlv(tag, typeof value === "string" ? Buffer.from(value, "utf8") : value)

const envelope = (id: number, op: Buffer): Buffer => adTlv(0x30, adInteger(id), op)

/** LDAPResult-shaped response (RFC 4511 §4.1.9) under the given [APPLICATION n] tag. */
export const result = (
  id: number,
  tag: number,
  code: number,
  diagnostic = "",
  extra: ReadonlyArray<Buffer> = []
): Buffer => envelope(id, adTlv(tag, adEnumerated(code), adOctets(""), adOctets(diagnostic), ...extra))

/** ExtendedResponse (RFC 4511 §4.12) with an optional responseName [10] and responseValue [11]. */
export const extendedResponse = (
  id: number,
  code: number,
  diagnostic: string,
  responseName: string | undefined,
  responseValue: string | undefined
): Buffer =>
  result(id, Op.extendedResponse, code, diagnostic, [
    ...(responseName === undefined ? [] : [adOctets(responseName, 0x8a)]),
    ...(responseValue === undefined ? [] : [adOctets(responseValue, 0x8b)])
  ])

/** SearchResultEntry (RFC 4511 §4.5.2). */
export const searchEntry = (
  id: number,
  dn: string,
  attributes: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
): Buffer =>
  envelope(
    id,
    adTlv(
      Op.searchResEntry,
      adOctets(dn),
      adTlv(
        0x30,
        ...attributes.map(([name, values]) =>
          adTlv(0x30, adOctets(name), adTlv(0x31, ...values.map((v) => adOctets(v))))
        )
      )
    )
  )

/** RFC 4514 shape: `attr=value` RDNs (multi-valued with `+`), commas escaped with `\`. */
export const isDnShaped = (dn: string): boolean => {
  if (dn.length > 1024) return false
  const rdns = dn.split(/(?<!\\),/)
  return rdns.every((rdn) =>
    rdn.split(/(?<!\\)\+/).every((ava) => /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)\s*=/.test(ava))
  )
}
