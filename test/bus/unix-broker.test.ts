// Broker socket ownership (spec/bus.md §1.1): mode 0660, chown to --group when it exists and is allowed,
// the process group otherwise; "" never chowns. Group ids come from /etc/group (no new dependency).
import { mkdtempSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lookupGroupId, serveBroker } from "../../src/bus/Broker.js"

const dir = () => mkdtempSync(join(tmpdir(), "decnet-brokergrp-"))

describe("broker socket group", () => {
  it("lookupGroupId reads a group file; numeric ids pass through; unknown is undefined", () => {
    const file = join(dir(), "group")
    writeFileSync(file, "root:x:0:\ndecnet:x:4242:alice,bob\nbroken:x:notanumber:\n")
    expect(lookupGroupId("decnet", file)).toBe(4242)
    expect(lookupGroupId("root", file)).toBe(0)
    expect(lookupGroupId("1234", file)).toBe(1234)
    expect(lookupGroupId("missing", file)).toBeUndefined()
    expect(lookupGroupId("broken", file)).toBeUndefined()
    expect(lookupGroupId("decnet", join(dir(), "no-such-file"))).toBeUndefined()
  })

  // Running as root here (CI and dev VM), so chown to another group is permitted.
  const canChown = process.getuid?.() === 0
  const other = lookupGroupId("daemon") ?? lookupGroupId("nogroup")

  it.scopedLive.skipIf(!canChown || other === undefined)("an existing group owns the socket", () =>
    Effect.gen(function* () {
      const path = join(dir(), "bus.sock")
      yield* serveBroker({
        socketPath: path,
        group: lookupGroupId("daemon") !== undefined ? "daemon" : "nogroup",
        heartbeatSeconds: 0
      })
      const st = statSync(path)
      expect(st.gid).toBe(other)
      expect(st.mode & 0o777).toBe(0o660)
    })
  )

  it.scopedLive('a missing group or "" keeps the process group', () =>
    Effect.gen(function* () {
      const a = join(dir(), "bus.sock")
      const b = join(dir(), "bus.sock")
      yield* serveBroker({ socketPath: a, group: "no-such-group-decnet", heartbeatSeconds: 0 })
      yield* serveBroker({ socketPath: b, group: "", heartbeatSeconds: 0 })
      expect(statSync(a).gid).toBe(process.getgid?.())
      expect(statSync(b).gid).toBe(process.getgid?.())
    })
  )
})
