/**
 * SSH user authentication (RFC 4252) as sshd with PAM would answer it: password and
 * keyboard-interactive check the configured accounts, public keys are always refused. Every try is
 * an `auth_attempt`; an accepted login starts the session cap instead of the login grace.
 */
import { createHash } from "node:crypto"
import type ssh2 from "ssh2"
import { credentialFields } from "../runtime/index.js"
import type { SshConnection } from "./Instance.js"

/** More than OpenSSH's MaxAuthTries (6), fewer than a brute-forcer would like per connection. */
const MAX_AUTH_TRIES = 64

const keyFingerprint = (data: Buffer): string =>
  `SHA256:${createHash("sha256").update(data).digest("base64").replace(/=+$/, "")}`

/** Answer `client`'s authentication requests; `ready` follows an accepted one. */
export const authenticate = (sc: SshConnection, client: ssh2.Connection): void => {
  const { config } = sc.instance
  const methods: Array<ssh2.AuthenticationType> = config.keyboard_interactive
    ? ["publickey", "password", "keyboard-interactive"]
    : ["publickey", "password"]

  const credentialsOk = (user: string, password: string): boolean => {
    if (user === "root" && password === config.password) return true
    if (user === config.user && password === config.user_password) return true
    return config.accept_any_after > 0 && sc.tries >= config.accept_any_after
  }

  /** Log a password try and answer it. */
  const password = (
    user: string,
    secret: string,
    method: "password" | "keyboard-interactive",
    accept: () => void,
    reject: () => void
  ): void => {
    sc.fork(
      sc.events.emit({
        _tag: "auth_attempt",
        username: user,
        ...credentialFields(user, secret, "plaintext"),
        method
      })
    )
    if (!credentialsOk(user, secret)) {
      reject()
      return
    }
    sc.user = user
    sc.conn.loggedIn()
    accept()
  }

  client.on("authentication", (auth) => {
    sc.tries++
    if (sc.tries > MAX_AUTH_TRIES) return client.end()
    const reject = () => auth.reject(methods)
    switch (auth.method) {
      case "password":
        return password(auth.username, auth.password, "password", () => auth.accept(), reject)
      case "keyboard-interactive":
        if (!config.keyboard_interactive) return reject()
        return auth.prompt([{ prompt: "Password: ", echo: false }], (answers) =>
          password(auth.username, answers[0] ?? "", "keyboard-interactive", () => auth.accept(), reject)
        )
      case "publickey": {
        const fp = keyFingerprint(auth.key.data)
        sc.fork(
          sc.events.emit({
            _tag: "auth_attempt",
            username: auth.username,
            principal: auth.username,
            secret_printable: fp,
            secret_b64: auth.key.data.toString("base64"),
            secret_kind: "publickey",
            key_algo: auth.key.algo,
            fingerprint: fp,
            method: "publickey"
          })
        )
        return reject()
      }
      default:
        return reject()
    }
  })
}
