/**
 * SSH user authentication (RFC 4252) as sshd with PAM would answer it: password and
 * keyboard-interactive check the configured accounts (the outcome depends only on the decky's config,
 * the user and the password), public keys are always refused. A refused password is answered after
 * pam_unix's failure delay (config `auth_failure_delay_ms`, drawn from the decky's seeded Random), and
 * the 6th failure (MaxAuthTries) ends the connection with "Too many authentication failures". Every try
 * is an `auth_attempt`; an accepted login starts the session cap instead of the login grace.
 */
import { createHash } from "node:crypto"
import type ssh2 from "ssh2"
import { Duration, Effect, Random } from "effect"
import { credentialFields } from "../runtime/index.js"
import type { SshConnection } from "./Instance.js"

/** sshd's MaxAuthTries default: the 6th failed try ends the connection. */
const MAX_AUTH_TRIES = 6

/** SSH2_DISCONNECT_PROTOCOL_ERROR: what sshd's ssh_packet_disconnect sends. */
const DISCONNECT_PROTOCOL_ERROR = 2

const keyFingerprint = (data: Buffer): string =>
  `SHA256:${createHash("sha256").update(data).digest("base64").replace(/=+$/, "")}`

/** Answer `client`'s authentication requests; `ready` follows an accepted one. */
export const authenticate = (sc: SshConnection, client: ssh2.Connection): void => {
  const { config } = sc.instance
  const methods: Array<ssh2.AuthenticationType> = config.keyboard_interactive
    ? ["publickey", "password", "keyboard-interactive"]
    : ["publickey", "password"]
  const [minDelay, maxDelay] = config.auth_failure_delay_ms

  const credentialsOk = (user: string, password: string): boolean => {
    if (user === "root" && password === config.password) return true
    if (user === config.user && password === config.user_password) return true
    return config.accept_any_after > 0 && sc.tries >= config.accept_any_after
  }

  /**
   * A failed try, as sshd's userauth_finish counts it: the first `none` request is free, every other
   * refusal is a failure, and the MaxAuthTries-th failure is answered with a disconnect instead of
   * USERAUTH_FAILURE.
   */
  const refuse = (reject: () => void, counts: boolean): void => {
    if (counts) sc.failures++
    if (sc.failures >= MAX_AUTH_TRIES)
      client.disconnect(DISCONNECT_PROTOCOL_ERROR, "Too many authentication failures")
    else reject()
  }

  /** Log a password try and answer it; a refusal waits out PAM's failure delay first (a sleep, no CPU). */
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
      sc.fork(
        Random.nextIntBetween(Math.min(minDelay, maxDelay), Math.max(minDelay, maxDelay) + 1).pipe(
          Effect.flatMap((ms) => Effect.sleep(Duration.millis(ms))),
          Effect.andThen(Effect.sync(() => refuse(reject, true)))
        )
      )
      return
    }
    sc.user = user
    sc.conn.loggedIn()
    accept()
  }

  client.on("authentication", (auth) => {
    sc.tries++
    const reject = () => auth.reject(methods)
    switch (auth.method) {
      case "none":
        return refuse(reject, sc.tries > 1)
      case "password":
        return password(auth.username, auth.password, "password", () => auth.accept(), reject)
      case "keyboard-interactive":
        if (!config.keyboard_interactive) return refuse(reject, true)
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
        return refuse(reject, true)
      }
      default:
        return refuse(reject, true)
    }
  })
}
