// The `evidence` group (spec api §7.3, §7.4): bounty and credential pages, the default page cached 5 s.
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { EvidenceRepo } from "../../db/EvidenceRepo.js"
import { DecnetApi } from "../Contract.js"
import { present } from "../Query.js"
import { makeTtlValue } from "../TtlCache.js"

/** The payload as an object when it is JSON text, else the text itself (spec §7.3). */
const decodePayload = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export const EvidenceHandlers = HttpApiBuilder.group(DecnetApi, "evidence", (handlers) =>
  Effect.gen(function* () {
    const repo = yield* EvidenceRepo
    const DEFAULT_PAGE = { limit: 50, offset: 0 }

    const bountyPage = (
      bountyType: string | undefined,
      search: string | undefined,
      limit: number,
      offset: number
    ) =>
      Effect.map(repo.bounties({ bountyType, search }, { limit, offset }), ({ total, rows }) => ({
        total,
        limit,
        offset,
        data: rows.map((r) => ({ ...r, payload: decodePayload(r.payload) }))
      }))
    const credentialPage = (
      f: { search: string | undefined; service: string | undefined; attackerIp: string | undefined },
      limit: number,
      offset: number
    ) =>
      Effect.map(repo.credentials(f, { limit, offset }), ({ total, rows }) => ({
        total,
        limit,
        offset,
        data: rows
      }))

    const bountyDefault = yield* makeTtlValue(bountyPage(undefined, undefined, 50, 0), "5 seconds")
    const credentialDefault = yield* makeTtlValue(
      credentialPage({ search: undefined, service: undefined, attackerIp: undefined }, 50, 0),
      "5 seconds"
    )

    return handlers
      .handle("bounty", ({ urlParams: q }) => {
        const bountyType = present(q.bounty_type)
        const search = present(q.search)
        return bountyType === undefined &&
          search === undefined &&
          q.limit === DEFAULT_PAGE.limit &&
          q.offset === 0
          ? bountyDefault.get
          : bountyPage(bountyType, search, q.limit, q.offset)
      })
      .handle("credentials", ({ urlParams: q }) => {
        const f = {
          search: present(q.search),
          service: present(q.service),
          attackerIp: present(q.attacker_ip)
        }
        return f.search === undefined &&
          f.service === undefined &&
          f.attackerIp === undefined &&
          q.limit === DEFAULT_PAGE.limit &&
          q.offset === 0
          ? credentialDefault.get
          : credentialPage(f, q.limit, q.offset)
      })
  })
)
