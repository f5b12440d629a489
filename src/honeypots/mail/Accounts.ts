/**
 * The logins imap and pop3 accept (the original's IMAP_USERS, shared by both) and the `auth` event
 * both log for every attempt, with the secret in the universal credential shape.
 */
import { CredentialEventFields, Sd } from "../runtime/index.js"

export const DEFAULT_USERS = "admin:admin123,root:toor,mail:mail,user:user"

/** `user:pass,user:pass` → password by user name. */
export const parseUsers = (spec: string): ReadonlyMap<string, string> => {
  const users = new Map<string, string>()
  for (const pair of spec.split(",")) {
    const colon = pair.indexOf(":")
    if (colon > 0) users.set(pair.slice(0, colon).trim(), pair.slice(colon + 1))
  }
  return users
}

/** The password must be exactly the configured one (the client's bytes, read as UTF-8). */
export const acceptsLogin = (
  users: ReadonlyMap<string, string>,
  username: string,
  password: Buffer
): boolean => users.get(username) === password.toString("utf8")

/** The fields of a mail service's `auth` event; `mechanism` is one of the service's own. */
export const mailAuthFields = <const M extends readonly [string, ...Array<string>]>(...mechanisms: M) => ({
  mechanism: Sd.Literal(...mechanisms),
  username: Sd.Text,
  ...CredentialEventFields,
  outcome: Sd.Literal("success", "failure")
})
