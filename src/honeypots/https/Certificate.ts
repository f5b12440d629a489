/**
 * The https persona's TLS settings, as Debian's Apache has them (issue 14): mod_ssl's Debian defaults,
 * `SSLProtocol all -SSLv3` (OpenSSL 3 at security level 2: TLS 1.2 and 1.3), `SSLCipherSuite HIGH:!aNULL`,
 * the client's cipher order (SSLHonorCipherOrder off), `SSLSessionTickets off`, DH parameters sized to the
 * key. The certificate is the decky's snakeoil one from the runtime (`tlsMaterial`, kept in
 * `<artifactsDir>/tls/`), the same pair Postfix, Dovecot and PostgreSQL serve on that host, as on Debian.
 */
import { constants } from "node:crypto"
import * as tls from "node:tls"
import { Data, Effect } from "effect"

export class CertificateError extends Data.TaggedError("CertificateError")<{ readonly reason: string }> {}

export interface Snakeoil {
  readonly cert: string
  readonly key: string
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
