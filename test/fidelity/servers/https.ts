// Debian's Apache 2.4 with mod_ssl (and mod_http2, `Protocols h2 http/1.1`) as the https emulator's
// reference (issue 14): the http starter's Debian-like configuration, plus Debian's ssl.conf defaults
// (SSLCipherSuite HIGH:!aNULL, SSLProtocol all -SSLv3, SSLSessionTickets off, a shmcb session cache)
// and a snakeoil-style self-signed certificate made with openssl in the temp folder.
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { HOSTNAME, startApache } from "./http.js"
import type { StartReal } from "./types.js"

export { HOSTNAME } from "./http.js"

/** The https emulator's config in the tests: Debian's default site, h1 and h2 by ALPN. */
export const emulatorConfig: Record<string, unknown> = { fake_app: "apache_default" }
export const nmapExpect = /ssl\/http\s+Apache httpd 2\.4\.\d+ \(\(Debian\)\)/

const SSLEAY = `[ req ]
default_bits = 2048
distinguished_name = req_distinguished_name
prompt = no
x509_extensions = v3_req
[ req_distinguished_name ]
commonName = ${HOSTNAME}
[ v3_req ]
basicConstraints = CA:FALSE
subjectAltName = DNS:${HOSTNAME}
`

export const start: StartReal = (options) =>
  startApache({
    ...options,
    modules: ["socache_shmcb", "ssl", "http2"],
    extra: (dir) => {
      writeFileSync(join(dir, "ssleay.cnf"), SSLEAY)
      execFileSync(
        "openssl",
        [
          "req",
          "-config",
          join(dir, "ssleay.cnf"),
          "-new",
          "-x509",
          "-days",
          "3650",
          "-nodes",
          "-sha256",
          "-out",
          join(dir, "snakeoil.pem"),
          "-keyout",
          join(dir, "snakeoil.key")
        ],
        { stdio: "ignore" }
      )
      return [
        "  SSLEngine on",
        `  SSLCertificateFile ${dir}/snakeoil.pem`,
        `  SSLCertificateKeyFile ${dir}/snakeoil.key`,
        "  Protocols h2 http/1.1"
      ].join("\n")
    },
    globals: (dir) =>
      [
        `SSLSessionCache shmcb:${dir}/ssl_scache(512000)`,
        "SSLSessionCacheTimeout 300",
        "SSLCipherSuite HIGH:!aNULL",
        "SSLProtocol all -SSLv3",
        "SSLSessionTickets off",
        "SSLRandomSeed startup builtin",
        "SSLRandomSeed connect builtin"
      ].join("\n")
  })
