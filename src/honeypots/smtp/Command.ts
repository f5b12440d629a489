/**
 * SMTP command lines as Postfix 3.x's smtpd reads them (RFC 5321 §4.1; Postfix smtpd(8)): the line is
 * cut at 2048 bytes (line_length_limit) and at a NUL, split on blanks, the verb matched without case.
 * MAIL/RCPT paths and their ESMTP parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 3461 DSN, RFC 6531
 * SMTPUTF8, RFC 4954 AUTH=) are checked in Postfix's order, with Postfix's reply for each fault.
 * Pure functions of the line: the session (index.ts) owns the state.
 */

/** Postfix's line_length_limit: the rest of a longer line is read and dropped. */
export const LINE_LIMIT = 2048

export interface CommandLine {
  /** Upper-cased first word; "" for a blank line. */
  readonly verb: string
  /** The words after the verb. */
  readonly args: ReadonlyArray<string>
  /** The text after the verb, trimmed. */
  readonly rest: string
}

export const parseLine = (raw: string): CommandLine => {
  const nul = raw.indexOf("\u0000")
  const line = (nul < 0 ? raw : raw.slice(0, nul)).slice(0, LINE_LIMIT).replace(/^[ \t]+|[ \t]+$/g, "")
  if (line === "") return { verb: "", args: [], rest: "" }
  const m = /^(\S+)(?:[ \t]+(.*))?$/s.exec(line)
  const verb = (m?.[1] ?? line).toUpperCase()
  const rest = m?.[2] ?? ""
  return { verb, args: rest === "" ? [] : rest.split(/[ \t]+/), rest }
}

/**
 * smtpd_forbidden_commands (default `CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}`, matched without
 * case): an HTTP request or a line that does not start with a letter gets
 * `221 2.7.0 Error: I can break rules, too. Goodbye.` and the connection closes.
 */
export const isForbidden = (verb: string): boolean =>
  verb === "CONNECT" || verb === "GET" || verb === "POST" || !/^[A-Za-z]/.test(verb)

const FROM_PATH = /^FROM:[ \t]*(.*)$/is
const TO_PATH = /^TO:[ \t]*(.*)$/is

export type PathResult =
  | { readonly _tag: "Ok"; readonly address: string; readonly params: ReadonlyArray<string> }
  | { readonly _tag: "Syntax" }
  | { readonly _tag: "BadAddress" }

/**
 * `FROM:<addr> params` / `TO:<addr> params` (the keyword matched without case, blanks allowed after
 * the colon). A missing keyword or an empty path is a syntax error (501 5.5.4); an unbalanced `<`,
 * blanks in the brackets or an address Postfix cannot parse make a bad address (501 5.1.7 / 5.1.3).
 */
export const parsePath = (rest: string, keyword: "FROM" | "TO"): PathResult => {
  const m = (keyword === "FROM" ? FROM_PATH : TO_PATH).exec(rest)
  const tail = m?.[1] ?? ""
  if (m === null || tail === "") return { _tag: "Syntax" }
  if (tail.startsWith("<")) {
    const close = tail.indexOf(">")
    if (close < 0) return { _tag: "BadAddress" }
    const address = tail.slice(1, close)
    if (/[ \t<]/.test(address) || !wellFormed(address)) return { _tag: "BadAddress" }
    const after = tail.slice(close + 1).trim()
    return { _tag: "Ok", address: stripRoute(address), params: after === "" ? [] : after.split(/[ \t]+/) }
  }
  const [address = "", ...params] = tail.split(/[ \t]+/)
  if (/[<>]/.test(address) || !wellFormed(address)) return { _tag: "BadAddress" }
  return { _tag: "Ok", address: stripRoute(address), params }
}

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/

/**
 * What Postfix's address parser (tok822) and smtpd's domain check take: no `,` `;` `[` or unbalanced
 * `"` in the local part (they split or open tokens), and a domain that is a valid hostname or an
 * address literal. Control characters are taken (and echoed as blanks, see `printable`).
 */
const wellFormed = (path: string): boolean => {
  const address = stripRoute(path)
  const at = address.lastIndexOf("@")
  const local = at < 0 ? address : address.slice(0, at)
  if (/[,;[]/.test(local) || (local.split('"').length - 1) % 2 === 1) return false
  if (at < 0) return true
  const domain = address.slice(at + 1)
  if (domain.startsWith("[")) return domain.endsWith("]")
  return domain.length <= 255 && domain.split(".").every((label) => HOST_LABEL.test(label))
}

/** Postfix's replies show an address's control characters as blanks. */
export const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f]/g, " ")

/** RFC 5321 §4.1.2: a source route (`@a,@b:user@host`) is accepted and ignored. */
const stripRoute = (address: string): string => address.replace(/^@[^:]*:/, "")

export type ParamFault =
  | { readonly _tag: "Unsupported"; readonly param: string }
  | { readonly _tag: "BadSize" }
  | { readonly _tag: "TooBig" }

/** MAIL FROM's parameters: the first fault, or undefined when Postfix takes them all. */
export const mailParamFault = (params: ReadonlyArray<string>, sizeLimit: number): ParamFault | undefined => {
  for (const param of params) {
    const eq = param.indexOf("=")
    const name = (eq < 0 ? param : param.slice(0, eq)).toUpperCase()
    const value = eq < 0 ? undefined : param.slice(eq + 1)
    if (name === "SIZE" && value !== undefined) {
      if (!/^\d+$/.test(value)) return { _tag: "BadSize" }
      if (Number(value) > sizeLimit) return { _tag: "TooBig" }
    } else if (name === "BODY" && value !== undefined) {
      if (!/^(7BIT|8BITMIME)$/i.test(value)) return { _tag: "Unsupported", param }
    } else if (name === "SMTPUTF8" && value === undefined) {
      // RFC 6531 §3.4
    } else if ((name === "RET" || name === "ENVID" || name === "AUTH") && value !== undefined) {
      // RFC 3461 §4.3, §4.4; RFC 4954 §5
    } else return { _tag: "Unsupported", param }
  }
  return undefined
}

/** RCPT TO's parameters (RFC 3461 NOTIFY and ORCPT): the first one Postfix does not take. */
export const rcptParamFault = (params: ReadonlyArray<string>): ParamFault | undefined => {
  for (const param of params) {
    const eq = param.indexOf("=")
    const name = (eq < 0 ? param : param.slice(0, eq)).toUpperCase()
    if (eq < 0 || (name !== "NOTIFY" && name !== "ORCPT")) return { _tag: "Unsupported", param }
  }
  return undefined
}

/** `BDAT <size> [LAST]` (RFC 3030 §2): the chunk size and whether it is the last, or undefined. */
export const parseBdat = (args: ReadonlyArray<string>): { size: number; last: boolean } | undefined => {
  const [size, last, ...more] = args
  if (size === undefined || !/^\d{1,15}$/.test(size) || more.length > 0) return undefined
  if (last !== undefined && last.toUpperCase() !== "LAST") return undefined
  return { size: Number(size), last: last !== undefined }
}
