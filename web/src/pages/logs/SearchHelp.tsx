/** The search language of `GET /logs` (spec logging-and-config: `_apply_filters`), with examples to try. */

const EXAMPLES: ReadonlyArray<[string, string]> = [
  ["service:ssh", "one service"],
  ["attacker_ip:203.0.113.7 event:auth_attempt", "one attacker's login attempts"],
  ["decky:web-01 wget", "“wget” anywhere in a decky's events"],
  ['event:command cmd:"uname -a"', "a field of the event, quoted because it has a space"]
]

export const SearchHelp = ({ onUse }: { onUse: (search: string) => void }) => (
  <details className="logs-help">
    <summary>Search syntax</summary>
    <ul>
      <li>
        <code>key:value</code> with key <code>decky</code>, <code>service</code>, <code>event</code> or{" "}
        <code>attacker_ip</code> (also <code>attacker</code>) matches that column exactly.
      </li>
      <li>
        Any other <code>key:value</code> matches the event's field <code>key</code> exactly (see an event's
        Fields), e.g. <code>user:root</code>, <code>sid:…</code>.
      </li>
      <li>A bare word matches part of the raw line, decky, service or attacker IP.</li>
      <li>
        Every term must match. Quote a value with spaces: <code>cmd:"cat /etc/passwd"</code>.
      </li>
    </ul>
    <p className="muted small">Examples (click to search):</p>
    <ul className="logs-examples">
      {EXAMPLES.map(([search, what]) => (
        <li key={search}>
          <button type="button" className="link mono" onClick={() => onUse(search)}>
            {search}
          </button>{" "}
          <span className="muted">— {what}</span>
        </li>
      ))}
    </ul>
  </details>
)
