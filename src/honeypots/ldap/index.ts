/**
 * ldap (spec/honeypots.md §13): an Active Directory domain controller's LDAP on 389 (with StartTLS)
 * and 636 (LDAPS). Simple binds are captured and refused with invalidCredentials; anonymous binds and
 * rootDSE searches succeed like on a real DC, so recon tools see the domain; everything else needs a
 * bind.
 */
import type * as tls from "node:tls"
import { Effect, Either, Random, Schema } from "effect"
import { berElementLength } from "../ntlm/Der.js"
import {
  type Connection,
  type ConnectionError,
  defineHoneypot,
  type Emitter,
  encodeSecret,
  HoneypotContext,
  type HoneypotContextService,
  serveTcp,
  serviceTls,
  TlsConfigFields
} from "../runtime/index.js"
import { type LdapEvent, ldapEvents } from "./Events.js"
import { decodeMessage, isDnShaped, Op, ResultCode, result, STARTTLS_OID, searchEntry } from "./Ldap.js"

export const LdapConfig = Schema.Struct({
  /** AD DNS domain; empty = the decky hostname's domain part, else `corp.local`. */
  domain: Schema.optionalWith(Schema.String, { default: () => "" }),
  /** One certificate for LDAPS (636) and StartTLS on 389: self-signed for `tls_cn`, or supplied. */
  ...TlsConfigFields
})
export type LdapConfig = typeof LdapConfig.Type

/** Largest LDAP message accepted (binds and searches are tiny; AD's MaxReceiveBuffer is 10 MB). */
const MAX_MESSAGE = 256 * 1024
const MAX_MESSAGES = 1000
/** What AD answers an unauthenticated operation. */
const NEED_BIND =
  "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"

/** Reply delay in [minMs, maxMs) from the instance's seeded generator. */
const jitter = (minMs: number, maxMs: number) =>
  Effect.flatMap(Random.nextIntBetween(minMs, maxMs), (ms) => Effect.sleep(ms))

interface Directory {
  readonly rootDse: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
}

const generalizedTime = (d: Date) => `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}.0Z`

const directoryFor = (ctx: HoneypotContextService, config: LdapConfig): Directory => {
  const [host, ...rest] = ctx.hostname.split(".")
  const domain = config.domain !== "" ? config.domain : rest.length > 0 ? rest.join(".") : "corp.local"
  const base = domain
    .split(".")
    .map((p) => `DC=${p}`)
    .join(",")
  const dc = (host ?? "dc01").toUpperCase()
  const config_ = `CN=Configuration,${base}`
  return {
    rootDse: [
      ["currentTime", [generalizedTime(new Date())]],
      ["subschemaSubentry", [`CN=Aggregate,CN=Schema,${config_}`]],
      [
        "dsServiceName",
        [`CN=NTDS Settings,CN=${dc},CN=Servers,CN=Default-First-Site-Name,CN=Sites,${config_}`]
      ],
      [
        "namingContexts",
        [base, config_, `CN=Schema,${config_}`, `DC=DomainDnsZones,${base}`, `DC=ForestDnsZones,${base}`]
      ],
      ["defaultNamingContext", [base]],
      ["rootDomainNamingContext", [base]],
      ["configurationNamingContext", [config_]],
      ["schemaNamingContext", [`CN=Schema,${config_}`]],
      [
        "supportedControl",
        [
          "1.2.840.113556.1.4.319",
          "1.2.840.113556.1.4.801",
          "1.2.840.113556.1.4.473",
          "1.2.840.113556.1.4.528"
        ]
      ],
      ["supportedLDAPVersion", ["3", "2"]],
      [
        "supportedLDAPPolicies",
        ["MaxPoolThreads", "MaxDatagramRecv", "MaxReceiveBuffer", "InitRecvTimeout", "MaxConnections"]
      ],
      ["highestCommittedUSN", [String(ctx.seed.int(40_000, 900_000))]],
      ["supportedSASLMechanisms", ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"]],
      ["dnsHostName", [`${(host ?? "dc01").toLowerCase()}.${domain}`]],
      ["ldapServiceName", [`${domain}:${(host ?? "dc01").toLowerCase()}$@${domain.toUpperCase()}`]],
      ["serverName", [`CN=${dc},CN=Servers,CN=Default-First-Site-Name,CN=Sites,${config_}`]],
      [
        "supportedCapabilities",
        ["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670", "1.2.840.113556.1.4.1791"]
      ],
      ["isSynchronized", ["TRUE"]],
      ["isGlobalCatalogReady", ["TRUE"]],
      ["domainFunctionality", ["7"]],
      ["forestFunctionality", ["7"]],
      ["domainControllerFunctionality", ["7"]]
    ]
  }
}

/** Read one BER-framed LDAPMessage; undefined = not LDAP (first byte must be SEQUENCE 0x30). */
const readFrame = (conn: Connection): Effect.Effect<Buffer | undefined, ConnectionError> =>
  Effect.gen(function* () {
    const head = yield* conn.readBytes(2)
    if (head[0] !== 0x30) return undefined
    const lenBytes = head[1]! >= 0x80 ? head[1]! & 0x7f : 0
    if (lenBytes > 4) return undefined
    const more = lenBytes > 0 ? yield* conn.readBytes(lenBytes) : Buffer.alloc(0)
    const total = berElementLength(Buffer.concat([head, more]))
    if (typeof total !== "number" || total > MAX_MESSAGE) return undefined
    const body = yield* conn.readBytes(total - 2 - lenBytes)
    return Buffer.concat([head, more, body])
  })

const session = (
  dir: Directory,
  tlsContext: tls.SecureContext,
  implicitTls: boolean,
  conn: Connection,
  events: Emitter<LdapEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    if (implicitTls) yield* conn.startTls(tlsContext)
    const emit = events.emit
    yield* emit({ _tag: "connect", tls: implicitTls })
    const error = (msg: string) => emit({ _tag: "error" }, { msg, severity: 4 })
    for (let n = 0; n < MAX_MESSAGES; n++) {
      const frame = yield* readFrame(conn)
      if (frame === undefined) return yield* error("not a BER LDAPMessage")
      const decoded = decodeMessage(frame)
      if (Either.isLeft(decoded)) return yield* error(decoded.left.reason)
      const { id, request: r } = decoded.right
      switch (r._tag) {
        case "Bind": {
          const password = r.password ?? Buffer.alloc(0)
          const anonymous = r.dn === "" && password.length === 0 && r.saslMechanism === undefined
          yield* emit({
            _tag: "bind",
            dn: r.dn,
            version: r.version,
            auth: r.saslMechanism === undefined ? "simple" : "sasl",
            sasl_mechanism: r.saslMechanism ?? "",
            principal: r.dn,
            ...(password.length > 0 ? { ...encodeSecret(password), secret_kind: "plaintext" as const } : {})
          })
          yield* jitter(10, 60)
          // RFC 4513 §5.1: anonymous binds succeed (as on AD); DN-without-password binds are refused.
          if (anonymous) {
            // The one bind that succeeds: the session cap applies from here, not the login grace.
            conn.loggedIn()
            yield* conn.write(result(id, Op.bindResponse, ResultCode.success))
          } else if (r.dn !== "" && !isDnShaped(r.dn) && !r.dn.includes("@") && !r.dn.includes("\\"))
            yield* conn.write(result(id, Op.bindResponse, ResultCode.invalidDNSyntax, "invalid DN"))
          else if (r.saslMechanism === undefined && password.length === 0)
            yield* conn.write(
              result(
                id,
                Op.bindResponse,
                ResultCode.unwillingToPerform,
                "unauthenticated bind (DN with no password) disallowed"
              )
            )
          else yield* conn.write(result(id, Op.bindResponse, ResultCode.invalidCredentials))
          break
        }
        case "Search": {
          yield* emit({
            _tag: "search",
            base: r.base,
            scope: r.scope,
            filter: r.filter,
            attributes: r.attributes
          })
          if (r.base === "" && r.scope === 0) {
            const wanted = r.attributes.map((a) => a.toLowerCase())
            const all = wanted.length === 0 || wanted.includes("*") || wanted.includes("+")
            const attrs = dir.rootDse.filter(([name]) => all || wanted.includes(name.toLowerCase()))
            yield* conn.write(searchEntry(id, "", attrs))
            yield* conn.write(result(id, Op.searchResDone, ResultCode.success))
          } else yield* conn.write(result(id, Op.searchResDone, ResultCode.operationsError, NEED_BIND))
          break
        }
        case "Unbind":
          return
        case "Abandon":
          break
        case "Extended": {
          if (r.oid === STARTTLS_OID && !conn.isTls()) {
            yield* conn.write(result(id, Op.extendedResponse, ResultCode.success))
            yield* conn.startTls(tlsContext)
          } else
            yield* conn.write(
              result(id, Op.extendedResponse, ResultCode.protocolError, "unsupported extended operation")
            )
          break
        }
        case "Other":
          yield* conn.write(result(id, r.responseTag, ResultCode.operationsError, NEED_BIND))
      }
    }
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const ldapHoneypot = defineHoneypot({
  slug: "ldap",
  description: "Active Directory LDAP (389 + StartTLS, 636 LDAPS): simple-bind capture, rootDSE",
  ports: { tcp: [389, 636], udp: [] },
  config: LdapConfig,
  events: ldapEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const plain = options.address(389)
      const ldaps = options.address(636)
      const { context } = yield* serviceTls({ service: "ldap", ...ldaps, config: options.config })
      const dir = directoryFor(ctx, options.config)
      return yield* Effect.all([
        serveTcp({
          ...plain,
          events: ldapEvents,
          handler: (conn, events) => session(dir, context, false, conn, events)
        }),
        serveTcp({
          ...ldaps,
          events: ldapEvents,
          handler: (conn, events) => session(dir, context, true, conn, events)
        })
      ])
    })
})
