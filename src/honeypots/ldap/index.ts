/**
 * ldap (spec/honeypots.md §13): an Active Directory domain controller's LDAP on 389 (with StartTLS)
 * and 636 (LDAPS). Simple binds are captured and refused with invalidCredentials; anonymous binds and
 * rootDSE searches succeed like on a real DC, so recon tools see the domain; everything else needs a
 * bind.
 */
import type * as tls from "node:tls"
import { Clock, Effect, Either, Random, Schema } from "effect"
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
  TlsProfiles,
  TlsConfigFields
} from "../runtime/index.js"
import { type LdapEvent, ldapEvents } from "./Events.js"
import {
  decodeMessage,
  extendedResponse,
  NOTICE_OF_DISCONNECTION_OID,
  Op,
  ResultCode,
  result,
  STARTTLS_OID,
  searchEntry,
  WHOAMI_OID
} from "./Ldap.js"

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

// AD's diagnostic messages (Windows Server 2019, "v4563"): a Win32 error, the DSID of the code path, a
// comment, and a NUL that AD leaves at the end of every one of them.
const adText = (s: string) => `${s}\0`
/** Any operation but bind, rootDSE search, Who am I? and StartTLS before an authenticated bind. */
const NEED_BIND = adText(
  "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
)
/** A simple bind with a password that does not verify (data 52e: ERROR_LOGON_FAILURE). */
const BAD_CREDENTIALS = adText(
  "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563"
)
const BAD_VERSION = adText(
  "00002024: LdapErr: DSID-0C0C0ADB, comment: Unsupported protocol version, data 0, v4563"
)
const BAD_MECHANISM = adText(
  "00002027: LdapErr: DSID-0C090A3D, comment: Unknown authentication mechanism, data 0, v4563"
)
const UNKNOWN_EXTENDED = adText(
  "0000203D: LdapErr: DSID-0C0C0CD4, comment: Unknown extended request OID, data 0, v4563"
)
const UNKNOWN_REQUEST = adText(
  "00000057: LdapErr: DSID-0C0C01B6, comment: Error decoding ldap message, data 0, v4563"
)
/** The SASL mechanisms the rootDSE advertises (a DC's defaults). */
const SASL_MECHANISMS = ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"]

/** Failed-bind latency in [minMs, maxMs) from the instance's seeded generator (a DC checks the hash). */
const jitter = (minMs: number, maxMs: number) =>
  Effect.flatMap(Random.nextIntBetween(minMs, maxMs), (ms) => Effect.sleep(ms))

type Attribute = readonly [string, ReadonlyArray<string>]

interface Directory {
  /** The rootDSE of a Windows Server 2019 DC (MS-ADTS §3.1.1.3.2), `currentTime` filled per search. */
  readonly rootDse: (nowMs: number) => ReadonlyArray<Attribute>
}

const generalizedTime = (ms: number) => `${new Date(ms).toISOString().replace(/[-:T]/g, "").slice(0, 14)}.0Z`

/** MS-ADTS §3.1.1.3.4.1: the LDAP controls a Windows Server 2016/2019 DC lists, in its order. */
const SUPPORTED_CONTROLS = [
  "1.2.840.113556.1.4.319",
  "1.2.840.113556.1.4.801",
  "1.2.840.113556.1.4.473",
  "1.2.840.113556.1.4.528",
  "1.2.840.113556.1.4.417",
  "1.2.840.113556.1.4.619",
  "1.2.840.113556.1.4.841",
  "1.2.840.113556.1.4.529",
  "1.2.840.113556.1.4.805",
  "1.2.840.113556.1.4.521",
  "1.2.840.113556.1.4.970",
  "1.2.840.113556.1.4.1338",
  "1.2.840.113556.1.4.474",
  "1.2.840.113556.1.4.1339",
  "1.2.840.113556.1.4.1340",
  "1.2.840.113556.1.4.1413",
  "2.16.840.1.113730.3.4.9",
  "2.16.840.1.113730.3.4.10",
  "1.2.840.113556.1.4.1504",
  "1.2.840.113556.1.4.1852",
  "1.2.840.113556.1.4.802",
  "1.2.840.113556.1.4.1907",
  "1.2.840.113556.1.4.1948",
  "1.2.840.113556.1.4.1974",
  "1.2.840.113556.1.4.1341",
  "1.2.840.113556.1.4.2026",
  "1.2.840.113556.1.4.2064",
  "1.2.840.113556.1.4.2065",
  "1.2.840.113556.1.4.2066",
  "1.2.840.113556.1.4.2090",
  "1.2.840.113556.1.4.2205",
  "1.2.840.113556.1.4.2204",
  "1.2.840.113556.1.4.2206",
  "1.2.840.113556.1.4.2211",
  "1.2.840.113556.1.4.2239",
  "1.2.840.113556.1.4.2255",
  "1.2.840.113556.1.4.2256",
  "1.2.840.113556.1.4.2309",
  "1.2.840.113556.1.4.2330",
  "1.2.840.113556.1.4.2354"
]
/** MS-ADTS §3.1.1.3.4.3: the LDAP policies of a 2016/2019 DC. */
const SUPPORTED_POLICIES = [
  "MaxPoolThreads",
  "MaxPercentDirSyncRequests",
  "MaxDatagramRecv",
  "MaxReceiveBuffer",
  "InitRecvTimeout",
  "MaxConnections",
  "MaxConnIdleTime",
  "MaxPageSize",
  "MaxBatchReturnMessages",
  "MaxQueryDuration",
  "MaxDirSyncDuration",
  "MaxTempTableSize",
  "MaxResultSetSize",
  "MinResultSets",
  "MaxResultSetsPerConn",
  "MaxNotificationPerConn",
  "MaxValRange",
  "MaxValRangeTransitive",
  "ThreadMemoryLimit",
  "SystemMemoryLimitPercent"
]
/**
 * MS-ADTS §3.1.1.3.4.2 capabilities of a Windows Server 2016/2019 DC: ACTIVE_DIRECTORY, V51, LDAP_INTEG,
 * V60, V61_R2, W8 (and the functional levels below: 7 = WIN2016, the highest a 2019 DC reports).
 */
const SUPPORTED_CAPABILITIES = [
  "1.2.840.113556.1.4.800",
  "1.2.840.113556.1.4.1670",
  "1.2.840.113556.1.4.1791",
  "1.2.840.113556.1.4.1935",
  "1.2.840.113556.1.4.2080",
  "1.2.840.113556.1.4.2237"
]

export const directoryFor = (ctx: HoneypotContextService, config: LdapConfig): Directory => {
  const [host, ...rest] = ctx.hostname.split(".")
  // A single-label domain ("dc01.lan") is no AD DNS name (and nmap's AD signatures want 2 or 3 DC=
  // parts): such a hostname's domain becomes `<label>.local`.
  const fromHost = rest.length > 1 ? rest.join(".") : rest.length === 1 ? `${rest[0]}.local` : "corp.local"
  const domain = (config.domain !== "" ? config.domain : fromHost).toLowerCase()
  const base = domain
    .split(".")
    .map((p) => `DC=${p}`)
    .join(",")
  const dc = (host ?? "dc01").toUpperCase()
  const config_ = `CN=Configuration,${base}`
  const server = `CN=${dc},CN=Servers,CN=Default-First-Site-Name,CN=Sites,${config_}`
  const usn = String(ctx.seed.int(40_000, 900_000))
  const fixed: ReadonlyArray<Attribute> = [
    ["subschemaSubentry", [`CN=Aggregate,CN=Schema,${config_}`]],
    ["dsServiceName", [`CN=NTDS Settings,${server}`]],
    [
      "namingContexts",
      [base, config_, `CN=Schema,${config_}`, `DC=DomainDnsZones,${base}`, `DC=ForestDnsZones,${base}`]
    ],
    ["defaultNamingContext", [base]],
    ["rootDomainNamingContext", [base]],
    ["configurationNamingContext", [config_]],
    ["schemaNamingContext", [`CN=Schema,${config_}`]],
    ["supportedControl", SUPPORTED_CONTROLS],
    ["supportedLDAPVersion", ["3", "2"]],
    ["supportedLDAPPolicies", SUPPORTED_POLICIES],
    ["highestCommittedUSN", [usn]],
    ["supportedSASLMechanisms", SASL_MECHANISMS],
    ["dnsHostName", [`${(host ?? "dc01").toLowerCase()}.${domain}`]],
    ["ldapServiceName", [`${domain}:${(host ?? "dc01").toLowerCase()}$@${domain.toUpperCase()}`]],
    ["serverName", [server]],
    ["supportedCapabilities", SUPPORTED_CAPABILITIES],
    ["isSynchronized", ["TRUE"]],
    ["isGlobalCatalogReady", ["TRUE"]],
    ["domainFunctionality", ["7"]],
    ["forestFunctionality", ["7"]],
    ["domainControllerFunctionality", ["7"]]
  ]
  return { rootDse: (nowMs) => [["currentTime", [generalizedTime(nowMs)]], ...fixed] }
}

/**
 * Read one BER element (RFC 4511 §5.1: definite length, at most 4 length octets). Like slapd, any tag
 * is framed by its length first, so a non-LDAP line waits for the bytes its "length" promises; the
 * caller then drops a non-SEQUENCE. undefined = not framable (indefinite, too long): close.
 */
const readFrame = (conn: Connection): Effect.Effect<Buffer | undefined, ConnectionError> =>
  Effect.gen(function* () {
    const head = yield* conn.readBytes(2)
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
      if (frame === undefined || frame[0] !== 0x30) return yield* error("not a BER LDAPMessage")
      const decoded = decodeMessage(frame)
      if (Either.isLeft(decoded)) return yield* error(decoded.left.reason)
      const { id, request: r } = decoded.right
      switch (r._tag) {
        case "Bind": {
          const password = r.password ?? Buffer.alloc(0)
          yield* emit({
            _tag: "bind",
            dn: r.dn,
            version: r.version,
            auth: r.saslMechanism === undefined ? "simple" : "sasl",
            sasl_mechanism: r.saslMechanism ?? "",
            principal: r.dn,
            ...(password.length > 0 ? { ...encodeSecret(password), secret_kind: "plaintext" as const } : {})
          })
          if (r.version !== 2 && r.version !== 3)
            yield* conn.write(result(id, Op.bindResponse, ResultCode.protocolError, BAD_VERSION))
          else if (r.saslMechanism !== undefined) {
            yield* jitter(10, 60)
            yield* conn.write(
              SASL_MECHANISMS.includes(r.saslMechanism)
                ? result(id, Op.bindResponse, ResultCode.invalidCredentials, BAD_CREDENTIALS)
                : result(id, Op.bindResponse, ResultCode.authMethodNotSupported, BAD_MECHANISM)
            )
          } else if (password.length === 0) {
            // RFC 4513 §5.1.1/§5.1.2: anonymous (no DN) and unauthenticated (DN, no password) simple binds;
            // AD lets both through as anonymous unless dsHeuristics says otherwise. This is the one bind that
            // succeeds: the session cap applies from here, not the login grace.
            conn.loggedIn()
            yield* conn.write(result(id, Op.bindResponse, ResultCode.success))
          } else {
            // AD resolves DNs, UPNs and DOMAIN\user alike: any name that does not verify is data 52e.
            yield* jitter(10, 60)
            yield* conn.write(result(id, Op.bindResponse, ResultCode.invalidCredentials, BAD_CREDENTIALS))
          }
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
            const now = yield* Clock.currentTimeMillis
            const attrs = dir.rootDse(now).filter(([name]) => all || wanted.includes(name.toLowerCase()))
            yield* conn.write(
              Buffer.concat([searchEntry(id, "", attrs), result(id, Op.searchResDone, ResultCode.success)])
            )
          } else yield* conn.write(result(id, Op.searchResDone, ResultCode.operationsError, NEED_BIND))
          break
        }
        case "Unbind":
          return
        case "Abandon":
          break
        case "Extended": {
          if (r.oid === STARTTLS_OID && !conn.isTls()) {
            yield* conn.write(extendedResponse(id, ResultCode.success, "", STARTTLS_OID, undefined))
            yield* conn.startTls(tlsContext)
          } else if (r.oid === WHOAMI_OID)
            // An anonymous session's authzId is empty (RFC 4532 §2.2).
            yield* conn.write(extendedResponse(id, ResultCode.success, "", undefined, ""))
          else
            yield* conn.write(
              extendedResponse(id, ResultCode.protocolError, UNKNOWN_EXTENDED, undefined, undefined)
            )
          break
        }
        case "Unknown":
          yield* conn.write(
            extendedResponse(
              0,
              ResultCode.protocolError,
              UNKNOWN_REQUEST,
              NOTICE_OF_DISCONNECTION_OID,
              undefined
            )
          )
          return yield* error(`unsupported protocolOp 0x${r.tag.toString(16)}`)
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
      const { context } = yield* serviceTls({
        service: "ldap",
        ...ldaps,
        config: options.config,
        profile: TlsProfiles.schannel
      })
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
