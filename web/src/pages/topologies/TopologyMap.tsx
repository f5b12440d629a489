/**
 * The topology as an SVG map (layout in ./model.ts): LAN boxes in rows by depth, each decky a marker and
 * its name and state inside its home LAN, a link from every bridge decky to each of its other LANs. Shape
 * and text carry the meaning, colour only repeats it: a circle is a decky, a diamond a bridge, a "L3"
 * badge and a solid link an L3 forwarder (a dashed link: a bridge that does not route); every decky reads
 * its state, every LAN its subnet and "DMZ". A decky's tooltip adds its address, services and other LANs.
 */
import { useMemo } from "react"
import { type DeckyNode, LAN_W, layout, servicesOf, stateClass, type TopologyDetail, truthy } from "./model"

const Marker = ({ node }: { node: DeckyNode }) => {
  const { cx, cy } = node
  const cls = `map-node ${stateClass(node.view.decky.state)}`
  return node.view.bridge ? (
    <path className={cls} d={`M${cx} ${cy - 8} L${cx + 8} ${cy} L${cx} ${cy + 8} L${cx - 8} ${cy} Z`} />
  ) : (
    <circle className={cls} cx={cx} cy={cy} r={6} />
  )
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

export const TopologyMap = ({ detail }: { detail: TopologyDetail }) => {
  const l = useMemo(() => layout(detail), [detail])
  const name = detail.topology.name
  return (
    <div className="map-scroll">
      <svg
        className="topology-map"
        width={l.width}
        height={l.height}
        viewBox={`0 0 ${l.width} ${l.height}`}
        role="img"
        aria-labelledby="map-title"
        data-testid="topology-map"
      >
        <title id="map-title">
          {`Map of ${name}: ${detail.lans.length} LANs, ${detail.deckies.length} deckies, status ${detail.topology.status}`}
        </title>
        {l.lans.map((b) => {
          const dmz = truthy(b.lan.is_dmz)
          return (
            <g key={b.lan.id} className="map-lan" data-lan={b.lan.name}>
              <title>{`LAN ${b.lan.name} ${b.lan.subnet}${dmz ? " (DMZ)" : ""}, depth ${b.detached ? "not reached by a bridge" : b.depth}`}</title>
              <rect
                className={dmz ? "map-lan-box dmz" : b.detached ? "map-lan-box detached" : "map-lan-box"}
                x={b.x}
                y={b.y}
                width={b.w}
                height={b.h}
                rx={8}
              />
              <text className="map-lan-name" x={b.x + 10} y={b.y + 18}>
                {clip(b.lan.name, 22)}
                {dmz ? " · DMZ" : ""}
              </text>
              <text className="map-lan-subnet" x={b.x + 10} y={b.y + 33}>
                {b.lan.subnet}
                {b.detached ? " · unlinked" : ""}
              </text>
              {b.deckies.length === 0 && (
                <text className="map-empty" x={b.x + 10} y={b.y + 44 + 16}>
                  no decky homed here
                </text>
              )}
              {b.deckies.map((n) => {
                const d = n.view.decky
                return (
                  <g key={d.uuid} className="map-decky" data-decky={d.name}>
                    <title>
                      {`${d.name}${n.view.ip === null ? "" : ` ${n.view.ip}`}: ${d.state}, ${
                        servicesOf(d).length === 0 ? "no service" : `services ${servicesOf(d).join(", ")}`
                      }${
                        n.view.bridge
                          ? `, bridge to ${n.view.lans
                              .slice(1)
                              .map((x) => x.name)
                              .join(", ")}`
                          : ""
                      }${n.view.forwards ? ", L3 forwarder" : ""}${d.last_error === null ? "" : ` — ${d.last_error}`}`}
                    </title>
                    <Marker node={n} />
                    {n.view.forwards && (
                      <>
                        <rect
                          className="map-badge"
                          x={n.cx + 12}
                          y={n.cy - 7}
                          width={20}
                          height={14}
                          rx={3}
                        />
                        <text className="map-badge-text" x={n.cx + 22} y={n.cy + 4} textAnchor="middle">
                          L3
                        </text>
                      </>
                    )}
                    <text className="map-decky-name" x={n.cx + (n.view.forwards ? 38 : 14)} y={n.cy + 4}>
                      {clip(d.name, n.view.forwards ? 15 : 18)}
                    </text>
                    <text
                      className={`map-decky-state ${stateClass(d.state)}`}
                      x={b.x + LAN_W - 8}
                      y={n.cy + 4}
                      textAnchor="end"
                    >
                      {d.state}
                    </text>
                  </g>
                )
              })}
            </g>
          )
        })}
        {/* Links on top: each leaves its decky's marker, inside the home LAN. */}
        <g className="map-links">
          {l.links.map((k) => {
            // Out of the home LAN's left edge first (crossing none of its text), then to the other LAN
            // near its left end: its top when it is below, its bottom when above, its side on the same row.
            const x1 = k.from.cx
            const y1 = k.from.cy
            const exit = x1 - 18 - 12
            const to = k.to
            const below = to.y > y1
            const above = to.y + to.h < y1
            const right = to.x > x1
            const x2 = below || above ? to.x + 30 : right ? to.x : to.x + to.w
            const y2 = below ? to.y : above ? to.y + to.h : to.y + to.h / 2
            const d = below
              ? `M${x1} ${y1} L${exit} ${y1} C${exit - 30} ${y1}, ${x2} ${y2 - 50}, ${x2} ${y2}`
              : above
                ? `M${x1} ${y1} L${exit} ${y1} C${exit - 30} ${y1}, ${x2} ${y2 + 50}, ${x2} ${y2}`
                : `M${x1} ${y1} L${exit} ${y1} C${exit - 40} ${y1 + 80}, ${x2 + (right ? -60 : 60)} ${y2 + 80}, ${x2} ${y2}`
            return (
              <path
                key={k.key}
                className={k.forwards ? "map-link forwards" : "map-link"}
                d={d}
                data-link={`${k.from.view.decky.name}->${k.to.lan.name}`}
              >
                <title>{`${k.from.view.decky.name} is also on ${k.to.lan.name}${k.forwards ? " (routes, L3)" : ""}`}</title>
              </path>
            )
          })}
        </g>
      </svg>
    </div>
  )
}

/** What the shapes mean. */
export const MapLegend = () => (
  <ul className="map-legend" aria-label="Map legend">
    <li>
      <svg width="18" height="18" aria-hidden="true">
        <circle className="map-node tstate-ok" cx="9" cy="9" r="6" />
      </svg>
      decky (on one LAN)
    </li>
    <li>
      <svg width="18" height="18" aria-hidden="true">
        <path className="map-node tstate-ok" d="M9 1 L17 9 L9 17 L1 9 Z" />
      </svg>
      bridge decky (on several LANs)
    </li>
    <li>
      <svg width="26" height="18" aria-hidden="true">
        <rect className="map-badge" x="3" y="2" width="20" height="14" rx="3" />
        <text className="map-badge-text" x="13" y="13" textAnchor="middle">
          L3
        </text>
      </svg>
      L3 forwarder (routes between its LANs)
    </li>
    <li>
      <svg width="34" height="18" aria-hidden="true">
        <path className="map-link forwards" d="M2 9 L32 9" />
      </svg>
      routed link
    </li>
    <li>
      <svg width="34" height="18" aria-hidden="true">
        <path className="map-link" d="M2 9 L32 9" />
      </svg>
      bridge link, no routing
    </li>
    <li>
      <span className="tstate-ok">running</span> · <span className="tstate-idle">pending</span> ·{" "}
      <span className="tstate-busy">busy</span> · <span className="tstate-warn">degraded</span> ·{" "}
      <span className="tstate-bad">failed</span> (also written next to each decky)
    </li>
  </ul>
)
