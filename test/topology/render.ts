// A plan as docs/topology.md shows it: LANs, deckies, edges, one line each.
import type { GeneratedTopology } from "../../src/topology/Generator.js"

const flags = (pairs: ReadonlyArray<readonly [boolean, string]>): string =>
  pairs
    .filter(([on]) => on)
    .map(([, name]) => name)
    .join(" ")

export const renderPlan = (plan: GeneratedTopology): string => {
  const pad = (s: string, n: number) => s.padEnd(n)
  const lans = plan.lans.map(
    (lan) => `${pad(lan.name, 8)}${pad(lan.subnet, 16)}${lan.is_dmz ? "DMZ" : `under ${lan.parent ?? "?"}`}`
  )
  const deckies = plan.deckies.map((d) =>
    `${pad(d.name, 11)}${pad(d.services.join(","), 26)}${Object.entries(d.ips_by_lan)
      .map(([lan, ip]) => `${lan}=${ip}`)
      .join(" ")}${d.forwards_l3 ? "  forwards_l3" : ""}`.trimEnd()
  )
  const edges = plan.edges.map(
    (e) =>
      `${pad(e.decky_name, 11)}${pad(e.lan_name, 8)}${
        flags([
          [e.is_bridge, "is_bridge"],
          [e.forwards_l3, "forwards_l3"]
        ]) || "-"
      }`
  )
  return ["LANs", ...lans, "", "deckies", ...deckies, "", "edges", ...edges].join("\n")
}
