/**
 * Polling of `GET /deckies/lifecycle?ids=…&ids=…` every 2 s until every row is `succeeded` or `failed`
 * (spec api §8); then the deckies queries are invalidated so the table shows the outcome.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query"
import { useEffect, useRef } from "react"
import { api, call, type LifecycleRow } from "../../api/client"

export type { LifecycleRow }

const MAX_IDS = 200 // the route takes 1..200 ids
/** Polls after which ids the server does not know (a contract-test run) stop the wait. */
const GIVE_UP_MISSING = 5

const terminal = (r: LifecycleRow) => r.status === "succeeded" || r.status === "failed"

const fetchRows = async (ids: ReadonlyArray<string>): Promise<ReadonlyArray<LifecycleRow>> => {
  const chunks: Array<Array<string>> = []
  for (let i = 0; i < ids.length; i += MAX_IDS) chunks.push(ids.slice(i, i + MAX_IDS))
  const pages = await Promise.all(
    chunks.map((chunk) =>
      // openapi-fetch serialises an array as repeated `ids=` (form, explode).
      call(api.GET("/api/v1/deckies/lifecycle", { params: { query: { ids: chunk } } }))
    )
  )
  return pages.flatMap((p) => p.rows)
}

interface Poll {
  readonly rows: ReadonlyArray<LifecycleRow>
  readonly polls: number
}

const isDone = (data: Poll | undefined, ids: ReadonlyArray<string>) =>
  data?.rows.every(terminal) === true && (data.rows.length >= ids.length || data.polls >= GIVE_UP_MISSING)

/** Rows per id (`row` undefined until the server knows it), `done` once nothing is left to wait for. */
export const useLifecycle = (ids: ReadonlyArray<string>) => {
  const queryClient = useQueryClient()
  const polls = useRef(0)
  const query = useQuery({
    queryKey: ["lifecycle", ...ids],
    queryFn: async (): Promise<Poll> => ({ rows: await fetchRows(ids), polls: ++polls.current }),
    enabled: ids.length > 0,
    refetchInterval: (q) => (isDone(q.state.data, ids) ? false : 2000)
  })
  const done = ids.length === 0 || isDone(query.data, ids)
  useEffect(() => {
    if (done) void queryClient.invalidateQueries({ queryKey: ["deckies"] })
  }, [done, queryClient])
  const byId = new Map((query.data?.rows ?? []).map((r) => [r.id, r] as const))
  return { rows: ids.map((id) => ({ id, row: byId.get(id) })), done, error: query.error }
}
