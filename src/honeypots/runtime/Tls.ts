/**
 * TLS for honeypot listeners (spec/honeypots.md §4 https, shared by imaps/pop3s/smtps/ldaps). Either
 * the operator supplies a PEM cert/key (inline text or a file path), or we mint a self-signed RSA-2048
 * certificate (CN = tls_cn or the decky hostname, 3650 days), once per common name per decky (the
 * decky's `certificates` memo). `serviceTls` is the one place a service gets its TLS context.
 */
import { generateKeyPair, randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import * as tls from "node:tls"
import { Data, Effect, Schema } from "effect"
import type * as Forge from "node-forge"
import { HoneypotContext } from "./Context.js"
import { HoneypotListenError } from "./Serve.js"

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
        try: () => readFile(value, "utf8"),
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
      privateKeyEncoding: { type: "pkcs1", format: "pem" }
    },
    (err, publicKey, privateKey) =>
      err === null
        ? resume(Effect.succeed({ publicKey, privateKey }))
        : resume(Effect.fail(new TlsError({ reason: `RSA key generation failed: ${err.message}` })))
  )
})

/** Build and sign the X.509 certificate; node:crypto cannot issue certificates, node-forge can. */
const selfSign = (commonName: string, days: number): Effect.Effect<TlsMaterial, TlsError> =>
  Effect.flatMap(generateRsaKeyPair, ({ publicKey, privateKey }) =>
    Effect.try({
      try: (): TlsMaterial => {
        const forge = loadForge()
        const cert = forge.pki.createCertificate()
        cert.publicKey = forge.pki.publicKeyFromPem(publicKey)
        // Positive serial: clear the top bit so DER does not read it as negative.
        const serial = randomBytes(16)
        serial[0] = serial[0]! & 0x7f
        cert.serialNumber = serial.toString("hex")
        const now = new Date()
        cert.validity.notBefore = new Date(now.getTime() - 60_000)
        cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000)
        const subject = [{ name: "commonName", value: commonName }]
        cert.setSubject(subject)
        cert.setIssuer(subject)
        cert.setExtensions([
          { name: "basicConstraints", cA: true },
          { name: "subjectKeyIdentifier" },
          { name: "subjectAltName", altNames: [{ type: 2, value: commonName }] }
        ])
        cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create())
        return { cert: forge.pki.certificateToPem(cert), key: privateKey }
      },
      catch: (e) =>
        new TlsError({ reason: `self-signed certificate for CN=${commonName} failed: ${String(e)}` })
    })
  )

/** Cert + key PEM: the supplied pair when both are set, else the decky's self-signed pair for the CN. */
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
  const days = options.days ?? 3650
  return Effect.flatMap(HoneypotContext, (ctx) =>
    ctx.certificates.get(`${cn}\u0000${days}`, selfSign(cn, days))
  ).pipe(Effect.withSpan("Tls.material", { attributes: { source: "self-signed", cn } }))
}

/** A `tls.SecureContext` for `conn.startTls` (STARTTLS / implicit-TLS listeners). */
export const secureContext = (
  options: TlsOptions
): Effect.Effect<tls.SecureContext, TlsError, HoneypotContext> =>
  Effect.flatMap(tlsMaterial(options), (material) =>
    Effect.try({
      try: () => tls.createSecureContext({ cert: material.cert, key: material.key }),
      catch: (e) => new TlsError({ reason: `invalid TLS certificate/key: ${String(e)}` })
    })
  )

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
 * SecureContext. A bad pair fails the service's start, naming the listener it was for.
 */
export const serviceTls = (options: {
  readonly service: string
  readonly host: string
  readonly port: number
  readonly config: TlsConfig
}): Effect.Effect<ServiceTls, HoneypotListenError, HoneypotContext> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const tlsOptions: TlsOptions = {
      commonName: options.config.tls_cn ?? ctx.hostname,
      cert: options.config.tls_cert,
      key: options.config.tls_key
    }
    const material = yield* tlsMaterial(tlsOptions)
    const context = yield* Effect.try({
      try: () => tls.createSecureContext({ cert: material.cert, key: material.key }),
      catch: (e) => new TlsError({ reason: `invalid TLS certificate/key: ${String(e)}` })
    })
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
