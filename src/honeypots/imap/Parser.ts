/**
 * IMAP command syntax as Dovecot's imap-parser reads it (RFC 3501 §9): the tag, the command name, and
 * the arguments (atoms, quoted strings, parenthesised lists). Literals have already been read and
 * inlined as quoted strings by the session. Errors carry Dovecot's own texts, which the client sees.
 */

export type Arg =
  | { readonly _tag: "atom"; readonly value: string }
  | { readonly _tag: "string"; readonly value: string }
  | { readonly _tag: "list"; readonly items: ReadonlyArray<Arg> }

/** A parsed argument list, or the parser's error text. */
export type Parsed =
  | { readonly ok: true; readonly args: ReadonlyArray<Arg> }
  | { readonly ok: false; readonly error: string }

/** Lists nest at most this deep; arguments per command at most this many (bounded like every input). */
const MAX_DEPTH = 16
const MAX_ARGS = 512

/**
 * imap-login-client.c `imap_is_valid_tag`: no atom-specials, wildcards or quoted-specials, no CTL; a
 * signed `char` makes every 8-bit byte invalid too.
 */
export const isValidTag = (tag: string): boolean => {
  if (tag === "") return false
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i)
    if (c < 0x20 || c >= 0x80 || '+(){/ %*"\\'.includes(tag[i] ?? "")) return false
  }
  return true
}

/** Split `tag SP name SP rest` the way imap_parser_read_word does (one space each, empty words kept). */
export const splitCommand = (line: string): { tag: string; name: string; rest: string } => {
  const sp = line.indexOf(" ")
  const tag = sp < 0 ? line : line.slice(0, sp)
  const afterTag = sp < 0 ? "" : line.slice(sp + 1)
  const sp2 = afterTag.indexOf(" ")
  return {
    tag,
    name: sp2 < 0 ? afterTag : afterTag.slice(0, sp2),
    rest: sp2 < 0 ? "" : afterTag.slice(sp2 + 1)
  }
}

const isAtomEnd = (c: string) => c === " " || c === "(" || c === ")"

/** imap-parser.c: the arguments of one command line. */
export const parseArgs = (text: string): Parsed => {
  const stack: Array<Array<Arg>> = [[]]
  let count = 0
  let i = 0
  while (i < text.length) {
    const c = text[i] ?? ""
    const top = stack[stack.length - 1] ?? []
    if (c === " ") {
      i++
      continue
    }
    if (++count > MAX_ARGS) return { ok: false, error: "Too many arguments" }
    if (c === "(") {
      if (stack.length > MAX_DEPTH) return { ok: false, error: "Too deep parameter list nesting" }
      const items: Array<Arg> = []
      top.push({ _tag: "list", items })
      stack.push(items)
      i++
      continue
    }
    if (c === ")") {
      if (stack.length === 1) return { ok: false, error: "Unexpected ')'" }
      stack.pop()
      i++
      continue
    }
    if (c === '"') {
      let s = ""
      i++
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < text.length) i++
        s += text[i]
        i++
      }
      if (i >= text.length) return { ok: false, error: "Missing '\"'" }
      i++
      top.push({ _tag: "string", value: s })
      continue
    }
    if (c === "{") return { ok: false, error: "Invalid literal size" }
    const start = i
    while (i < text.length && !isAtomEnd(text[i] ?? "")) {
      const code = text.charCodeAt(i)
      if (code < 0x20 || code === 0x7f) return { ok: false, error: "Invalid characters in atom" }
      i++
    }
    top.push({ _tag: "atom", value: text.slice(start, i) })
  }
  if (stack.length > 1) return { ok: false, error: "Missing ')'" }
  return { ok: true, args: stack[0] ?? [] }
}

/** An atom or string argument's text (IMAP's `astring`); lists have none. */
export const astring = (arg: Arg | undefined): string | undefined =>
  arg === undefined || arg._tag === "list" ? undefined : arg.value
