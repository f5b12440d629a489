/**
 * The OpenSSH releases an ssh decky can claim, each with what its sshd sends before authentication:
 * the identification string, the KEXINIT name-lists (OpenSSH's own defaults for that release, in its
 * order, for the default host keys RSA + ECDSA P-256 + Ed25519 as a fresh install generates them), and
 * the EXT_INFO extensions. A scanner compares exactly these (HASSH-server, ssh-audit, nmap's
 * ssh2-enum-algos), so each list is the release's, not what is convenient.
 *
 * - `OpenSSH_9.2p1 Debian-2+deb12u10`: Debian 12's sshd, compared byte for byte with the real one in
 *   test/fidelity/ssh.test.ts. Debian backports the two sntrup761 names (`sntrup761x25519-sha512`
 *   first) and the strict-KEX marker (CVE-2023-48795).
 * - `OpenSSH_8.9p1 Ubuntu-3ubuntu0.4`: Ubuntu 22.04 before the strict-KEX update (3ubuntu0.5), so no
 *   marker; OpenSSH 8.9's myproposal.h (sntrup761 after the ECDH methods) and 8.9's key-type table for
 *   server-sig-algs.
 *
 * Every listed algorithm can be negotiated: the ssh2 patch (patches/) adds sntrup761x25519, server-side
 * group exchange and UMAC to what ssh2 implements. See docs/dependencies.md.
 */
import type ssh2 from "ssh2"

export interface SshPersona {
  /** After `SSH-2.0-`. */
  readonly version: string
  /** The KEXINIT name-lists (ssh2 adds the strict-KEX marker when `strictKex`). */
  readonly algorithms: {
    readonly kex: Array<ssh2.KexAlgorithm>
    readonly serverHostKey: Array<ssh2.ServerHostKeyAlgorithm>
    readonly cipher: Array<ssh2.CipherAlgorithm>
    readonly hmac: Array<ssh2.MacAlgorithm>
    readonly compress: Array<ssh2.CompressionAlgorithm>
  }
  /** `kex-strict-s-v00@openssh.com` at the end of the KEX list. */
  readonly strictKex: boolean
  /** EXT_INFO, in sshd's order. */
  readonly extInfo: Array<[string, string]>
}

/** What a host with the three default host keys offers (sshd lists them in HostKey order). */
const HOST_KEY_ALGORITHMS: Array<ssh2.ServerHostKeyAlgorithm> = [
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ecdsa-sha2-nistp256",
  "ssh-ed25519"
]

const CIPHERS: Array<ssh2.CipherAlgorithm> = [
  "chacha20-poly1305@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com"
]

const MACS: Array<ssh2.MacAlgorithm> = [
  "umac-64-etm@openssh.com",
  "umac-128-etm@openssh.com",
  "hmac-sha2-256-etm@openssh.com",
  "hmac-sha2-512-etm@openssh.com",
  "hmac-sha1-etm@openssh.com",
  "umac-64@openssh.com",
  "umac-128@openssh.com",
  "hmac-sha2-256",
  "hmac-sha2-512",
  "hmac-sha1"
]

const COMPRESSION: Array<ssh2.CompressionAlgorithm> = ["none", "zlib@openssh.com"]

const TAIL_KEX: Array<ssh2.KexAlgorithm> = [
  "diffie-hellman-group-exchange-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group14-sha256"
]

const ECDH_KEX: Array<ssh2.KexAlgorithm> = [
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521"
]

export const DEBIAN_12: SshPersona = {
  version: "OpenSSH_9.2p1 Debian-2+deb12u10",
  algorithms: {
    kex: ["sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", ...ECDH_KEX, ...TAIL_KEX],
    serverHostKey: HOST_KEY_ALGORITHMS,
    cipher: CIPHERS,
    hmac: MACS,
    compress: COMPRESSION
  },
  strictKex: true,
  extInfo: [
    // sshkey_alg_list(0, 1, 1, ',') of 9.2 (its keyimpls table order)
    [
      "server-sig-algs",
      "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," +
        "sk-ecdsa-sha2-nistp256@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa," +
        "rsa-sha2-256,rsa-sha2-512"
    ],
    ["publickey-hostbound@openssh.com", "0"]
  ]
}

export const UBUNTU_22_04: SshPersona = {
  version: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.4",
  algorithms: {
    kex: [...ECDH_KEX, "sntrup761x25519-sha512@openssh.com", ...TAIL_KEX],
    serverHostKey: HOST_KEY_ALGORITHMS,
    cipher: CIPHERS,
    hmac: MACS,
    compress: COMPRESSION
  },
  strictKex: false,
  extInfo: [
    // sshkey_alg_list(0, 1, 1, ',') of 8.9 (its keytypes table order)
    [
      "server-sig-algs",
      "ssh-ed25519,sk-ssh-ed25519@openssh.com,ssh-rsa,rsa-sha2-256,rsa-sha2-512,ssh-dss,ecdsa-sha2-nistp256," +
        "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com," +
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com"
    ],
    ["publickey-hostbound@openssh.com", "0"]
  ]
}

export const PERSONAS: ReadonlyArray<SshPersona> = [UBUNTU_22_04, DEBIAN_12]

export const PERSONA_VERSIONS = [UBUNTU_22_04.version, DEBIAN_12.version] as const

/** The persona claiming `version` (the config only admits these). */
export const personaFor = (version: string): SshPersona =>
  PERSONAS.find((p) => p.version === version) ?? UBUNTU_22_04
