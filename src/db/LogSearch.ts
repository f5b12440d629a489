// The log search language of spec §5.6: shell-style tokens, `key:value` exact matches on known
// columns or on `fields.<key>`, bare words LIKE-matched; all AND-ed. Pure, so it is fuzzed directly.

export type SearchTerm =
  | {
      readonly kind: "column"
      readonly column: "decky" | "service" | "event_type" | "attacker_ip"
      readonly value: string
    }
  | { readonly kind: "field"; readonly key: string; readonly value: string }
  | { readonly kind: "text"; readonly value: string }

const COLUMN_KEYS: Record<string, "decky" | "service" | "event_type" | "attacker_ip"> = {
  decky: "decky",
  service: "service",
  event: "event_type",
  attacker: "attacker_ip",
  "attacker-ip": "attacker_ip",
  attacker_ip: "attacker_ip"
}

/** POSIX-shell-like split; undefined on an unterminated quote or a trailing backslash. */
const shellSplit = (input: string): Array<string> | undefined => {
  const out: Array<string> = []
  let cur = ""
  let inToken = false
  let quote: "'" | '"' | undefined
  for (let i = 0; i < input.length; i++) {
    const ch = input.charAt(i)
    if (quote === "'") {
      if (ch === "'") quote = undefined
      else cur += ch
    } else if (quote === '"') {
      if (ch === '"') quote = undefined
      else if (ch === "\\" && i + 1 < input.length && '"\\$`'.includes(input.charAt(i + 1)))
        cur += input.charAt(++i)
      else cur += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      inToken = true
    } else if (ch === "\\") {
      if (i + 1 >= input.length) return undefined
      cur += input.charAt(++i)
      inToken = true
    } else if (/\s/.test(ch)) {
      if (inToken) out.push(cur)
      cur = ""
      inToken = false
    } else {
      cur += ch
      inToken = true
    }
  }
  if (quote !== undefined) return undefined
  if (inToken) out.push(cur)
  return out
}

export const parseSearch = (search: string): ReadonlyArray<SearchTerm> => {
  const tokens = shellSplit(search) ?? search.split(/\s+/).filter((t) => t !== "")
  return tokens.flatMap((tok): Array<SearchTerm> => {
    const colon = tok.indexOf(":")
    if (colon > 0) {
      const key = tok.slice(0, colon)
      const value = tok.slice(colon + 1)
      const column = COLUMN_KEYS[key]
      if (column !== undefined) return [{ kind: "column", column, value }]
      const clean = key.replace(/[^A-Za-z0-9_]/g, "")
      if (clean !== "") return [{ kind: "field", key: clean, value }]
    }
    return tok === "" ? [] : [{ kind: "text", value: tok }]
  })
}
