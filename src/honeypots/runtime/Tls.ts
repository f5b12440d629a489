/**
 * TLS for honeypot listeners (spec/honeypots.md §4 https, shared by imaps/pop3s/smtps/ldaps). Either
 * the operator supplies a PEM cert/key (inline text or a file path), or the decky holds a self-signed
 * RSA-2048 certificate (CN = tls_cn or the decky hostname, 3650 days) in the style of Debian's
 * "snakeoil" one (the certificate Postfix, Dovecot and PostgreSQL use there out of the box). It is
 * generated once per common name per decky and kept under the decky's artifacts directory
 * (`<artifactsDir>/tls/<CN>.{crt,key}`, the key 0600), so its fingerprint survives restarts, as a real
 * host's does; within one process the decky's `certificates` memo generates it once. `serviceTls` is
 * the one place a service gets its TLS context.
 */
import { createHash, createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from "node:crypto"
import * as fsp from "node:fs/promises"
import { createRequire } from "node:module"
import * as path from "node:path"
import * as tls from "node:tls"
import { Clock, Data, Effect, Schema } from "effect"
import type * as Forge from "node-forge"
import { HoneypotContext } from "./Context.js"
import { HoneypotListenError } from "./Serve.js"
import { profileContextOptions, type TlsProfile } from "./TlsProfile.js"

// node-forge is CommonJS without named ESM exports; load it through require at this one boundary, and
// only when a certificate is minted (most processes never do, and it is a large module).
const loadForge = (): typeof Forge => createRequire(import.meta.url)("node-forge")

export class TlsError extends Data.TaggedError("TlsError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

export interface TlsMaterial {
  readonly cert: string
  readonly key: string
}

export interface TlsOptions {
  /** Subject CN of the self-signed certificate (config `tls_cn`, else the decky hostname). */
  readonly commonName: string
  /** PEM text or a path to a PEM file; both `cert` and `key` must be given to skip self-signing. */
  readonly cert?: string | undefined
  readonly key?: string | undefined
  /** Certificate lifetime (default 3650 days, as the original's `openssl req -days 3650`). */
  readonly days?: number | undefined
}

const isPem = (value: string): boolean => value.includes("-----BEGIN ")

/** Inline PEM text is used as is; anything else is a file path. */
const loadPem = (value: string, what: string): Effect.Effect<string, TlsError> =>
  isPem(value)
    ? Effect.succeed(value)
    : Effect.tryPromise({
        try: () => fsp.readFile(value, "utf8"),
        catch: (e) => new TlsError({ reason: `cannot read TLS ${what} ${value}: ${String(e)}` })
      }).pipe(
        Effect.filterOrFail(
          isPem,
          () => new TlsError({ reason: `TLS ${what} file ${value} holds no PEM block` })
        )
      )

const generateRsaKeyPair = Effect.async<{ publicKey: string; privateKey: string }, TlsError>((resume) => {
  generateKeyPair(
    "rsa",
    {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" }
    },
    (err, publicKey, privateKey) =>
      err === null
        ? resume(Effect.succeed({ publicKey, privateKey }))
        : resume(Effect.fail(new TlsError({ reason: `RSA key generation failed: ${err.message}` })))
  )
})

/**
 * Build and sign the X.509 certificate (node:crypto cannot issue certificates, node-forge can), as
 * Debian's make-ssl-cert does (`openssl req -x509 -sha256` with ssleay.cnf): a 20-byte serial, the CN
 * as a UTF8String, basicConstraints CA:FALSE, the CN as DNS SAN, a subject key identifier (the same DER
 * layout, checked against make-ssl-cert's output); the key PKCS#8, as OpenSSL 3 writes it.
 */
const selfSign = (commonName: string, days: number): Effect.Effect<TlsMaterial, TlsError> =>
  Effect.gen(function* () {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000) * 1000
    const { publicKey, privateKey } = yield* generateRsaKeyPair
    return yield* Effect.try({
      try: (): TlsMaterial => {
        const forge = loadForge()
        const cert = forge.pki.createCertificate()
        cert.publicKey = forge.pki.publicKeyFromPem(publicKey)
        // Positive serial: clear the top bit so DER does not read it as negative.
        const serial = randomBytes(20)
        serial[0] = (serial[0] ?? 0) & 0x7f
        cert.serialNumber = serial.toString("hex")
        cert.validity.notBefore = new Date(now)
        cert.validity.notAfter = new Date(now + days * 86_400_000)
        // openssl writes the CN as a UTF8String (forge's default is PrintableString).
        const utf8: number = forge.asn1.Type.UTF8
        const subject = [{ name: "commonName", value: commonName, valueTagClass: utf8 }]
        cert.setSubject(subject)
        cert.setIssuer(subject)
        cert.setExtensions([
          { name: "basicConstraints", cA: false },
          { name: "subjectAltName", altNames: [{ type: 2, value: commonName }] },
          { name: "subjectKeyIdentifier" }
        ])
        cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create())
        return { cert: forge.pki.certificateToPem(cert), key: privateKey }
      },
      catch: (e) =>
        new TlsError({ reason: `self-signed certificate for CN=${commonName} failed: ${String(e)}` })
    })
  })

const DEFAULT_DAYS = 3650

/**
 * The file stem of a CN's pair under `<artifactsDir>/tls/`: the CN itself when it is a plain host-like
 * name, else a digest of it (an operator's `tls_cn` may hold `/` or spaces); a non-default lifetime
 * gets its own pair.
 */
export const tlsFileStem = (commonName: string, days: number = DEFAULT_DAYS): string => {
  const base = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(commonName)
    ? commonName
    : `cn-${createHash("sha256").update(commonName).digest("hex").slice(0, 32)}`
  return days === DEFAULT_DAYS ? base : `${base}.${days}d`
}

class StoredPairUnusable extends Data.TaggedError("StoredPairUnusable")<{
  readonly missing: boolean
  readonly reason: string
}> {}

/** A stored pair is used when both files hold PEM, the key is the certificate's and the CN is ours. */
const readStored = (
  certFile: string,
  keyFile: string,
  commonName: string
): Effect.Effect<TlsMaterial, StoredPairUnusable> =>
  Effect.gen(function* () {
    const read = (file: string) =>
      Effect.tryPromise({
        try: () => fsp.readFile(file, "utf8"),
        catch: (e) =>
          new StoredPairUnusable({
            missing: e instanceof Error && "code" in e && e.code === "ENOENT",
            reason: `cannot read ${file}: ${String(e)}`
          })
      })
    const [cert, key] = yield* Effect.all([read(certFile), read(keyFile)], { concurrency: 2 })
    yield* Effect.try({
      try: () => {
        const x509 = new X509Certificate(cert)
        if (!x509.checkPrivateKey(createPrivateKey(key))) return "the key is not the certificate's"
        const cn = x509.subject.split("\n").find((field) => field.startsWith("CN="))
        return cn === `CN=${commonName}` || (cn !== undefined && tlsFileStem(commonName).startsWith("cn-"))
          ? undefined
          : `it names ${cn ?? "no CN"}, not CN=${commonName}`
      },
      catch: (e) => `it does not parse: ${String(e)}`
    }).pipe(
      Effect.mapError((reason) => new StoredPairUnusable({ missing: false, reason })),
      Effect.flatMap((problem) =>
        problem === undefined
          ? Effect.void
          : Effect.fail(new StoredPairUnusable({ missing: false, reason: problem }))
      )
    )
    return { cert, key }
  })

/** Write the pair under temporary names, then rename (the key first, mode 0600); failure is logged. */
const store = (dir: string, certFile: string, keyFile: string, pair: TlsMaterial): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Effect.tryPromise(() => fsp.mkdir(dir, { recursive: true, mode: 0o700 }))
    for (const [file, text, mode] of [
      [keyFile, pair.key, 0o600],
      [certFile, pair.cert, 0o644]
    ] as const) {
      const tmp = `${file}.${process.pid}.tmp`
      yield* Effect.tryPromise(() => fsp.writeFile(tmp, text, { mode }))
      yield* Effect.tryPromise(() => fsp.rename(tmp, file))
    }
  }).pipe(Effect.catchAll((cause) => Effect.logWarning(`tls: could not store ${certFile}`, cause)))

/**
 * The decky's pair for a CN: the stored one, else a new one, stored. An unusable stored pair (corrupt,
 * truncated, a foreign key) is replaced, with a warning; one that cannot be stored is still used, for
 * this process only, and logged.
 */
const persistedPair = (
  artifactsDir: string,
  commonName: string,
  days: number
): Effect.Effect<TlsMaterial, TlsError> => {
  const dir = path.join(artifactsDir, "tls")
  const stem = tlsFileStem(commonName, days)
  const certFile = path.join(dir, `${stem}.crt`)
  const keyFile = path.join(dir, `${stem}.key`)
  return readStored(certFile, keyFile, commonName).pipe(
    Effect.catchAll((unusable) =>
      (unusable.missing
        ? Effect.void
        : Effect.logWarning(
            `tls: stored certificate ${certFile} unusable (${unusable.reason}); generating a new one`
          )
      ).pipe(
        Effect.zipRight(Effect.tap(selfSign(commonName, days), (pair) => store(dir, certFile, keyFile, pair)))
      )
    )
  )
}

/**
 * Cert + key PEM: the supplied pair when both are set, else the decky's self-signed pair for the CN
 * (stored under `<artifactsDir>/tls/`, generated once).
 */
export const tlsMaterial = (options: TlsOptions): Effect.Effect<TlsMaterial, TlsError, HoneypotContext> => {
  const cert = options.cert ?? ""
  const key = options.key ?? ""
  if (cert !== "" && key !== "")
    return Effect.all({ cert: loadPem(cert, "certificate"), key: loadPem(key, "key") }).pipe(
      Effect.withSpan("Tls.material", { attributes: { source: "supplied" } })
    )
  if (cert !== "" || key !== "")
    return Effect.fail(new TlsError({ reason: "tls_cert and tls_key must be given together" }))
  const cn = options.commonName === "" ? "localhost" : options.commonName
  const days = options.days ?? DEFAULT_DAYS
  return Effect.flatMap(HoneypotContext, (ctx) =>
    ctx.certificates.get(`${cn}\u0000${days}`, persistedPair(ctx.artifactsDir, cn, days))
  ).pipe(Effect.withSpan("Tls.material", { attributes: { source: "self-signed", cn } }))
}

/** One SecureContext for a pair: node:tls's defaults, or a persona's profile (TlsProfile.ts). */
const contextFor = (
  material: TlsMaterial,
  profile?: TlsProfile
): Effect.Effect<tls.SecureContext, TlsError> =>
  Effect.try({
    try: () =>
      tls.createSecureContext(
        profile === undefined
          ? { cert: material.cert, key: material.key }
          : profileContextOptions(profile, material)
      ),
    catch: (e) => new TlsError({ reason: `invalid TLS certificate/key: ${String(e)}` })
  })

/** A `tls.SecureContext` for `conn.startTls` (STARTTLS / implicit-TLS listeners). */
export const secureContext = (
  options: TlsOptions,
  profile?: TlsProfile
): Effect.Effect<tls.SecureContext, TlsError, HoneypotContext> =>
  Effect.flatMap(tlsMaterial(options), (material) => contextFor(material, profile))

/** The TLS knobs every TLS-capable service takes (spread into its config Schema). */
export const TlsConfigFields = {
  /** Subject CN of the self-signed certificate (default: the decky hostname). */
  tls_cn: Schema.optional(Schema.String),
  /** PEM text or a file path; with `tls_key`, replaces the self-signed pair. */
  tls_cert: Schema.optional(Schema.String),
  tls_key: Schema.optional(Schema.String)
} as const

export interface TlsConfig {
  readonly tls_cn?: string | undefined
  readonly tls_cert?: string | undefined
  readonly tls_key?: string | undefined
}

export interface ServiceTls {
  readonly material: TlsMaterial
  readonly context: tls.SecureContext
}

/**
 * A service's TLS: the configured pair or the decky's self-signed certificate for the CN, as a ready
 * SecureContext with the TLS defaults of the server the persona claims (`profile`), built once for all
 * connections. A bad pair fails the service's start, naming the listener it was for.
 */
export const serviceTls = (options: {
  readonly service: string
  readonly host: string
  readonly port: number
  readonly config: TlsConfig
  readonly profile: TlsProfile
}): Effect.Effect<ServiceTls, HoneypotListenError, HoneypotContext> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const tlsOptions: TlsOptions = {
      commonName: options.config.tls_cn ?? ctx.hostname,
      cert: options.config.tls_cert,
      key: options.config.tls_key
    }
    const material = yield* tlsMaterial(tlsOptions)
    const context = yield* contextFor(material, options.profile)
    return { material, context }
  }).pipe(
    Effect.mapError(
      (e) =>
        new HoneypotListenError({
          service: options.service,
          host: options.host,
          port: options.port,
          message: e.reason
        })
    )
  )
