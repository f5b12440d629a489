/**
 * TLS material for honeypot listeners (spec/honeypots.md §4 https, shared by imaps/pop3s/smtps/ldaps).
 * Either the operator supplies a PEM cert/key (inline text or a file path), or we mint a self-signed
 * RSA-2048 certificate (CN = tls_cn or the decky hostname, 3650 days), minted once per (decky, CN) and cached.
 */
import { generateKeyPair, randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import * as tls from "node:tls"
import { Data, Deferred, Effect, Exit, FiberId } from "effect"
import { createRequire } from "node:module"
import type * as Forge from "node-forge"

// node-forge is CommonJS without named ESM exports; load it through require at this one boundary.
const forge: typeof Forge = createRequire(import.meta.url)("node-forge")

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
  /** Cache scope (the decky name): one certificate per (scope, CN) per process. */
  readonly scope?: string | undefined
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

/** Per-process cache: RSA generation costs ~100 ms, and every listener of a decky shares one cert. */
const cache = new Map<string, Deferred.Deferred<TlsMaterial, TlsError>>()

const cachedSelfSigned = (
  scope: string,
  commonName: string,
  days: number
): Effect.Effect<TlsMaterial, TlsError> =>
  Effect.suspend(() => {
    const key = `${scope}\u0000${commonName}\u0000${days}`
    const existing = cache.get(key)
    if (existing !== undefined) return Deferred.await(existing)
    const deferred = Deferred.unsafeMake<TlsMaterial, TlsError>(FiberId.none)
    cache.set(key, deferred)
    return selfSign(commonName, days).pipe(
      Effect.onExit((exit) =>
        Effect.suspend(() => {
          // A failed or interrupted generation must not poison the cache for later callers.
          if (Exit.isFailure(exit)) cache.delete(key)
          return Deferred.done(deferred, exit)
        })
      )
    )
  })

/** Cert + key PEM: the supplied pair when both are set, else the cached self-signed pair. */
export const tlsMaterial = (options: TlsOptions): Effect.Effect<TlsMaterial, TlsError> => {
  const cert = options.cert ?? ""
  const key = options.key ?? ""
  if (cert !== "" && key !== "")
    return Effect.all({ cert: loadPem(cert, "certificate"), key: loadPem(key, "key") }).pipe(
      Effect.withSpan("Tls.material", { attributes: { source: "supplied" } })
    )
  if (cert !== "" || key !== "")
    return Effect.fail(new TlsError({ reason: "tls_cert and tls_key must be given together" }))
  const cn = options.commonName === "" ? "localhost" : options.commonName
  return cachedSelfSigned(options.scope ?? "", cn, options.days ?? 3650).pipe(
    Effect.withSpan("Tls.material", { attributes: { source: "self-signed", cn } })
  )
}

/** A `tls.SecureContext` for `conn.startTls` (STARTTLS / implicit-TLS listeners). */
export const secureContext = (options: TlsOptions): Effect.Effect<tls.SecureContext, TlsError> =>
  Effect.flatMap(tlsMaterial(options), (material) =>
    Effect.try({
      try: () => tls.createSecureContext({ cert: material.cert, key: material.key }),
      catch: (e) => new TlsError({ reason: `invalid TLS certificate/key: ${String(e)}` })
    })
  )
