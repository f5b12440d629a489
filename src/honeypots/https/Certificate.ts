/**
 * The https persona's certificate and TLS settings, as Debian's Apache has them (issue 14):
 * - the certificate is Debian's "snakeoil" one (ssl-cert's make-ssl-cert: `openssl req -x509 -days
 *   3650 -sha256` with ssleay.cnf): RSA-2048, CN and DNS SAN = the hostname, basicConstraints
 *   CA:FALSE, a subject key identifier, a 20-byte serial. It is generated once per decky and kept
 *   under the decky's artifacts directory (`<artifactsDir>/https/ssl-cert-snakeoil.{pem,key}`), so its
 *   fingerprint survives restarts, as /etc/ssl/certs/ssl-cert-snakeoil.pem does;
 * - mod_ssl's Debian defaults: `SSLProtocol all -SSLv3` (OpenSSL 3 at security level 2: TLS 1.2 and
 *   1.3), `SSLCipherSuite HIGH:!aNULL`, the client's cipher order (SSLHonorCipherOrder off),
 *   `SSLSessionTickets off`, DH parameters sized to the key.
 */
import { constants, generateKeyPair, randomBytes } from "node:crypto"
import * as fsp from "node:fs/promises"
import { createRequire } from "node:module"
import * as path from "node:path"
import * as tls from "node:tls"
import { Clock, Data, Effect } from "effect"
import type * as Forge from "node-forge"

// node-forge is CommonJS without named ESM exports: loaded through require at this one boundary.
const loadForge = (): typeof Forge => createRequire(import.meta.url)("node-forge")

export class CertificateError extends Data.TaggedError("CertificateError")<{ readonly reason: string }> {}

export interface Snakeoil {
  readonly cert: string
  readonly key: string
}

const rsaKey = Effect.async<{ publicKey: string; privateKey: string }, CertificateError>((resume) => {
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
        : resume(Effect.fail(new CertificateError({ reason: `RSA key generation failed: ${err.message}` })))
  )
})

/** `openssl req -x509` with Debian's ssleay.cnf, in node-forge. */
const mint = (hostname: string): Effect.Effect<Snakeoil, CertificateError> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const { publicKey, privateKey } = yield* rsaKey
    return yield* Effect.try({
      try: (): Snakeoil => {
        const forge = loadForge()
        const cert = forge.pki.createCertificate()
        cert.publicKey = forge.pki.publicKeyFromPem(publicKey)
        const serial = randomBytes(20)
        serial[0] = (serial[0] ?? 0) & 0x7f
        cert.serialNumber = serial.toString("hex")
        cert.validity.notBefore = new Date(Math.floor(now / 1000) * 1000)
        cert.validity.notAfter = new Date(Math.floor(now / 1000) * 1000 + 3650 * 86_400_000)
        // openssl writes the CN as a UTF8String (forge's default is PrintableString).
        const utf8: number = forge.asn1.Type.UTF8
        const subject = [{ name: "commonName", value: hostname, valueTagClass: utf8 }]
        cert.setSubject(subject)
        cert.setIssuer(subject)
        cert.setExtensions([
          { name: "basicConstraints", cA: false },
          { name: "subjectAltName", altNames: [{ type: 2, value: hostname }] },
          { name: "subjectKeyIdentifier" }
        ])
        cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create())
        return { cert: forge.pki.certificateToPem(cert), key: privateKey }
      },
      catch: (e) =>
        new CertificateError({ reason: `snakeoil certificate for ${hostname} failed: ${String(e)}` })
    })
  })

/** The CN of a stored certificate, or undefined if it does not parse. */
const commonNameOf = (pem: string): string | undefined => {
  try {
    const value = loadForge().pki.certificateFromPem(pem).subject.getField("CN")?.value
    return typeof value === "string" ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The decky's snakeoil pair for `hostname`: the stored one when it names that host, else a new one,
 * stored (to temporary names, then renamed). One that cannot be stored is still used, for this
 * process only, and logged.
 */
export const snakeoil = (
  artifactsDir: string,
  hostname: string
): Effect.Effect<Snakeoil, CertificateError> => {
  const dir = path.join(artifactsDir, "https")
  const certFile = path.join(dir, "ssl-cert-snakeoil.pem")
  const keyFile = path.join(dir, "ssl-cert-snakeoil.key")
  const stored = Effect.all({
    cert: Effect.tryPromise(() => fsp.readFile(certFile, "utf8")),
    key: Effect.tryPromise(() => fsp.readFile(keyFile, "utf8"))
  }).pipe(
    Effect.filterOrFail(
      (pair) => commonNameOf(pair.cert) === hostname && pair.key.includes("PRIVATE KEY"),
      () => "stale" as const
    )
  )
  const save = (pair: Snakeoil) =>
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
    }).pipe(Effect.catchAll((cause) => Effect.logWarning(`https: could not store ${certFile}`, cause)))
  return stored.pipe(Effect.orElse(() => Effect.tap(mint(hostname), save)))
}

/** mod_ssl's Debian defaults over OpenSSL 3, for a certificate pair. */
export const apacheSecureContext = (pair: Snakeoil): Effect.Effect<tls.SecureContext, CertificateError> =>
  Effect.try({
    try: () =>
      tls.createSecureContext({
        cert: pair.cert,
        key: pair.key,
        ciphers: "HIGH:!aNULL",
        // SSLProtocol all -SSLv3: TLS 1.0 upwards, as far as the security level lets them through.
        minVersion: "TLSv1",
        honorCipherOrder: false,
        dhparam: "auto",
        // SSLSessionTickets off.
        secureOptions: constants.SSL_OP_NO_TICKET,
        sessionTimeout: 300
      }),
    catch: (e) => new CertificateError({ reason: `invalid TLS certificate/key: ${String(e)}` })
  })
