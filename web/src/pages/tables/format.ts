/** Compact text of decoded JSON for table cells: `k=v, k=v`, nested values as JSON, cut at `max`. */
export const compact = (value: unknown, max = 160): string => {
  const text =
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.entries(value)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(", ")
      : typeof value === "string"
        ? value
        : JSON.stringify(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** Field names that look like they hold a secret. */
const SECRET_KEY = /pass|pwd|token|secret|key|cookie|authorization|credential/i
export const HIDDEN = "•••• (hidden)"

export interface SecretField {
  readonly path: string
  readonly value: string
}

/** `value` with every secret-looking field's value replaced by HIDDEN, and those fields (path → text). */
export const redact = (
  value: unknown
): { readonly shown: unknown; readonly secrets: ReadonlyArray<SecretField> } => {
  const secrets: Array<SecretField> = []
  const walk = (v: unknown, path: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`))
    if (typeof v !== "object" || v === null) return v
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        const p = path === "" ? k : `${path}.${k}`
        if (!SECRET_KEY.test(k) || x === null || x === "") return [k, walk(x, p)]
        secrets.push({ path: p, value: typeof x === "string" ? x : JSON.stringify(x) })
        return [k, HIDDEN]
      })
    )
  }
  return { shown: walk(value, ""), secrets }
}
