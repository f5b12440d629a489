/**
 * One searchable, filterable table of a list-envelope route (`{total, limit, offset, data}`), 100 rows a
 * page. The search text, the filters and the page live in the URL (`?search=&<filter>=&page=`), so every
 * view is deep-linkable; typing commits after a short pause (Enter commits at once) and goes back to page 1.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query"
import { type ReactNode, useCallback, useEffect, useId, useState } from "react"
import { useSearchParams } from "react-router"
import { Empty, ErrorText, Loading } from "../../components/ui"
import "./tables.css"

export const PAGE_SIZE = 100
const DEBOUNCE_MS = 350

export interface Page<R> {
  readonly total: number
  readonly limit: number
  readonly offset: number
  readonly data: ReadonlyArray<R>
}

/** `limit`, `offset`, `search` and each filter's param, as the API's string query values. */
export type Query = Readonly<Record<string, string | undefined>>

export interface Column<R> {
  readonly header: string
  readonly cell: (row: R) => ReactNode
  readonly className?: string
}

export type Filter<R> =
  | { readonly kind: "text"; readonly param: string; readonly label: string; readonly placeholder?: string }
  | {
      readonly kind: "select"
      readonly param: string
      readonly label: string
      readonly options: ReadonlyArray<string>
      /** Values to offer from the rows on screen, beside the fixed options. */
      readonly seen?: (row: R) => string
    }

interface Props<R> {
  /** What the rows are, plural ("credentials"): the table's name and the empty-state wording. */
  readonly what: string
  readonly queryKey: string
  readonly searchPlaceholder: string
  readonly filters: ReadonlyArray<Filter<R>>
  readonly load: (q: Query) => Promise<Page<R>>
  readonly columns: ReadonlyArray<Column<R>>
  readonly rowKey: (row: R) => string | number
  /** Shown when there are no rows at all (no search, no filter). */
  readonly empty: ReactNode
}

type SetParam = (param: string, value: string) => void

/** A text box whose value is committed to the URL after a pause or on Enter. */
const TextParam = ({
  param,
  label,
  value,
  placeholder,
  setParam
}: {
  param: string
  label: string
  value: string
  placeholder?: string | undefined
  setParam: SetParam
}) => {
  const [draft, setDraft] = useState(value)
  const [synced, setSynced] = useState(value)
  if (value !== synced) {
    // The URL changed under us (back button, a link): show what it says.
    setSynced(value)
    setDraft(value)
  }
  useEffect(() => {
    if (draft === value) return
    const t = setTimeout(() => setParam(param, draft), DEBOUNCE_MS)
    return () => clearTimeout(t)
  }, [draft, value, param, setParam])
  return (
    <label>
      {label}
      <input
        type="search"
        value={draft}
        placeholder={placeholder}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault()
            setParam(param, draft)
          }
        }}
      />
    </label>
  )
}

export const PagedTable = <R,>({
  what,
  queryKey,
  searchPlaceholder,
  filters,
  load,
  columns,
  rowKey,
  empty
}: Props<R>) => {
  const [params, setParams] = useSearchParams()
  const id = useId()
  const page = Math.max(1, Math.floor(Number(params.get("page") ?? "1")) || 1)
  const offset = (page - 1) * PAGE_SIZE
  const values: Record<string, string> = {}
  for (const p of ["search", ...filters.map((f) => f.param)]) {
    const v = params.get(p)
    if (v !== null && v !== "") values[p] = v
  }
  const filtered = Object.keys(values).length > 0
  const query: Query = { ...values, limit: String(PAGE_SIZE), offset: String(offset) }

  const result = useQuery({
    queryKey: [queryKey, query],
    queryFn: () => load(query),
    placeholderData: keepPreviousData
  })

  const setParam = useCallback<SetParam>(
    (param, value) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev)
          if (value === "") next.delete(param)
          else next.set(param, value)
          next.delete("page")
          return next
        },
        { replace: true }
      ),
    [setParams]
  )
  const goTo = (n: number) =>
    setParams((prev) => {
      const next = new URLSearchParams(prev)
      if (n <= 1) next.delete("page")
      else next.set("page", String(n))
      return next
    })
  const clear = () => setParams(new URLSearchParams())

  const data = result.data
  const rows = data?.data ?? []
  const total = data?.total ?? 0
  const first = rows.length === 0 ? 0 : offset + 1
  const last = offset + rows.length

  return (
    <section className="paged" aria-label={what}>
      <div className="toolbar">
        <search className="row filters">
          <TextParam
            param="search"
            label="Search"
            value={params.get("search") ?? ""}
            placeholder={searchPlaceholder}
            setParam={setParam}
          />
          {filters.map((f) => {
            const value = params.get(f.param) ?? ""
            if (f.kind === "text")
              return (
                <TextParam
                  key={f.param}
                  param={f.param}
                  label={f.label}
                  value={value}
                  placeholder={f.placeholder}
                  setParam={setParam}
                />
              )
            const seen = f.seen
            const options = [...new Set([...f.options, ...(seen === undefined ? [] : rows.map(seen)), value])]
              .filter((o) => o !== "")
              .sort()
            return (
              <div className="field" key={f.param}>
                <label htmlFor={`${id}-${f.param}`}>{f.label}</label>
                <select
                  id={`${id}-${f.param}`}
                  value={value}
                  onChange={(e) => setParam(f.param, e.target.value)}
                >
                  <option value="">any</option>
                  {options.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              </div>
            )
          })}
          {filtered && (
            <button type="button" className="link" onClick={clear}>
              Clear filters
            </button>
          )}
        </search>
        <nav className="row pager" aria-label={`${what} pages`}>
          <output aria-live="polite">
            {first}–{last} of {total.toLocaleString()}
          </output>
          <button type="button" disabled={page <= 1} onClick={() => goTo(page - 1)}>
            Previous
          </button>
          <button type="button" disabled={last >= total} onClick={() => goTo(page + 1)}>
            Next
          </button>
          <button
            type="button"
            onClick={() => void result.refetch()}
            disabled={result.isFetching}
            aria-label={`Refresh ${what}`}
          >
            {result.isFetching ? "Loading…" : "Refresh"}
          </button>
        </nav>
      </div>
      <ErrorText error={result.error} />
      {data === undefined ? (
        result.isPending && <Loading what={what} />
      ) : rows.length > 0 ? (
        <div className="table-wrap">
          <table aria-label={what} aria-busy={result.isFetching}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.header} scope="col" className={c.className}>
                    {c.header}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={rowKey(r)}>
                  {columns.map((c) => (
                    <td key={c.header} className={c.className}>
                      {c.cell(r)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : total > 0 ? (
        <Empty title={`Page ${page} is past the last ${what}`}>
          <button type="button" onClick={() => goTo(1)}>
            Go to the first page
          </button>
        </Empty>
      ) : filtered ? (
        <Empty title={`No ${what} match this search`}>
          <p>Try fewer words or another filter, or use “Clear filters” above to see everything.</p>
        </Empty>
      ) : (
        empty
      )}
    </section>
  )
}

/** A cell of a naive-UTC timestamp (`YYYY-MM-DD HH:MM:SS.ffffff`): to the second, full text on hover. */
export const Stamp = ({ value }: { value: string }) => (
  <time className="mono nowrap" dateTime={`${value.replace(" ", "T").slice(0, 19)}Z`} title={`${value} UTC`}>
    {value.replace("T", " ").slice(0, 19)}
  </time>
)
