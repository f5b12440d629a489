// The dashboard's MazeNET page end to end (issue 15): `decnet up` as a child process, Debian's chromium
// through playwright-core (fixture.ts). An admin generates a small topology from the page (a field error
// first), deploys it and sees it become active on its map without a reload.
//
// Live updates come from the topology's SSE stream; the page polls only while that stream is down. Two
// tools make that provable without timing anything: playwright's clock runs the page's timers, so a test
// can stop them (no poll and no reconnect can fire by itself) and run exactly what it wants; and chromium's
// own network log (DevTools events, in order: requests, answers, every SSE message) says what the page
// fetched after what. The browser reaches the API through a loopback relay that can cut the stream.
// - Stream open, the page's clock stopped: a mutation enqueued through the API (behind the page's back, so
//   the page has no reason of its own to fetch) shows on the map. Only the stream can have said so; every
//   fetch of the topology followed an SSE message of the one open stream, which carried the mutation's
//   mutation.applied. A page that ignored the stream, or polled instead, fails here.
// - Stream cut and new streams refused: the header says so; a mutation is applied and the page still shows
//   the old map; one poll interval of its clock later it has fetched the new one (no SSE message came). When
//   streams are allowed again, the next retry mints a new ticket, opens the stream and takes its snapshot,
//   and the stream carries the next change as before.
//
// Each staged edit the page offers, done through its form on the live topology and checked on the map and
// through the API: add_lan, add_decky (an unknown service refused under its field first), attach_decky
// (only LANs it is not on offered), update_decky (its services), detach_decky (only its non-home LANs),
// remove_decky, remove_lan (never the DMZ). A mutation enqueued through the API behind the page's back
// makes the page's next edit a version conflict, which says so with the current version, keeps the edit,
// and re-applies it on the latest version. Teardown and delete ask first. A screenshot of the page goes
// to test-results/dashboard (or DECNET_SCREENSHOTS) as mazenet.png (docs/images/dashboard/mazenet.png).
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net"
import type { CDPSession, Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { stopAll, waitUntil } from "../support/proc.js"
import { hasChromium, screenshot, type Watched } from "./browser.js"
import {
  apiCall,
  apiLogin,
  type Dashboard,
  firstLogin,
  heading,
  onCi,
  startDashboard,
  unlabelled
} from "./fixture.js"

const NEW_PASSWORD = "mazenet-admin-pass-1"
const NAME = "maze-e2e"
const EVENTS = "**/api/v1/topologies/*/events?*"
/** The page's poll interval and reconnect delay while its stream is down (web/src/api/stream.tsx). */
const POLL_MS = 3_000
const TOPOLOGY_STREAM = /^\/api\/v1\/topologies\/[^/]+\/events$/

const suite = hasChromium || onCi ? describe : describe.skip

// ---- a relay whose topology streams can be cut ---------------------------------------------------------

interface Relay {
  readonly url: string
  /** Drop every open topology event stream (both sides of its connection); how many there were. */
  readonly cut: () => number
  readonly close: () => Promise<void>
}

/**
 * A loopback TCP relay to `target` (an http URL): the browser talks to the API through it. A connection
 * whose request is a topology's event stream is remembered, so that `cut` can drop it as a network would.
 */
const relayTo = async (target: string): Promise<Relay> => {
  const to = new URL(target)
  const streams = new Set<Socket>()
  const open = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(to.port), to.hostname)
    open.add(client)
    open.add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      streams.delete(client)
      open.delete(client)
      open.delete(upstream)
    }
    client.on("data", (chunk: Buffer) => {
      if (/^GET \/api\/v1\/topologies\/[^/\s]+\/events\?/m.test(chunk.toString("latin1"))) streams.add(client)
    })
    client.pipe(upstream)
    upstream.pipe(client)
    for (const s of [client, upstream]) {
      s.on("error", drop)
      s.on("close", drop)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the relay has no port")
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      const n = streams.size
      for (const s of [...streams]) s.destroy()
      return n
    },
    close: async () => {
      for (const s of [...open]) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

// ---- what chromium saw on the network, in order ---------------------------------------------------------

type Seen =
  | { readonly kind: "request"; readonly id: string; readonly method: string; readonly path: string }
  | { readonly kind: "response"; readonly id: string; readonly path: string; readonly status: number }
  | { readonly kind: "sse"; readonly id: string; readonly event: string; readonly data: string }

/** The page's network as DevTools reports it (one CDP session, so one order): requests, answers, SSE messages. */
const networkOf = async (session: CDPSession) => {
  const seen: Array<Seen> = []
  const streamIds = new Set<string>()
  const pathOf = (url: string) => new URL(url).pathname
  session.on("Network.requestWillBeSent", (e) => {
    seen.push({ kind: "request", id: e.requestId, method: e.request.method, path: pathOf(e.request.url) })
  })
  session.on("Network.responseReceived", (e) => {
    if (TOPOLOGY_STREAM.test(pathOf(e.response.url))) streamIds.add(e.requestId)
    seen.push({ kind: "response", id: e.requestId, path: pathOf(e.response.url), status: e.response.status })
  })
  session.on("Network.eventSourceMessageReceived", (e) => {
    seen.push({ kind: "sse", id: e.requestId, event: e.eventName, data: e.data })
  })
  await session.send("Network.enable")
  return {
    /** Where "since now" starts. */
    mark: () => seen.length,
    since: (mark: number): ReadonlyArray<Seen> => seen.slice(mark),
    /** The request was a topology's event stream (not the app's own /api/v1/stream). */
    isStream: (id: string) => streamIds.has(id)
  }
}

suite("the MazeNET page in chromium, against decnet up", () => {
  let dash: Dashboard | undefined
  let relay: Relay | undefined
  /** Where the browser goes: the relay. */
  let url = ""
  /** The API itself, for the test's own calls. */
  let apiUrl = ""
  let token = ""
  let admin: Watched | undefined
  let net: Awaited<ReturnType<typeof networkOf>> | undefined
  let topologyId = ""

  const page = (): Page => {
    if (admin === undefined) throw new Error("no admin page")
    return admin.page
  }
  const network = () => {
    if (net === undefined) throw new Error("no network log")
    return net
  }
  const api = (method: string, path: string, body?: unknown) => apiCall(apiUrl, token, method, path, body)

  interface DeckyJson {
    readonly name: string
    readonly services: ReadonlyArray<string>
    readonly state: string
    readonly decky_config: { readonly ips_by_lan?: Record<string, string> }
    readonly uuid: string
  }
  interface DetailJson {
    readonly topology: { readonly version: number; readonly status: string }
    readonly lans: ReadonlyArray<{ readonly id: string; readonly name: string }>
    readonly deckies: ReadonlyArray<DeckyJson>
    readonly edges: ReadonlyArray<{
      readonly decky_uuid: string
      readonly lan_id: string
      readonly is_bridge: unknown
    }>
  }
  const detail = async (): Promise<DetailJson> => {
    const r = await api("GET", `/topologies/${topologyId}`)
    if (r.status !== 200) throw new Error(`GET /topologies/${topologyId}: ${JSON.stringify(r)}`)
    return r.json as DetailJson
  }
  const version = async () => (await detail()).topology.version
  const mutationState = async (id: string) => {
    const r = await api("GET", `/topologies/${topologyId}/mutations`)
    const rows = r.json as ReadonlyArray<{ id: string; state: string; reason: string | null }>
    return rows.find((m) => m.id === id)
  }
  /** Enqueue through the API, on the current version; the mutation's id. */
  const enqueue = async (op: string, payload: unknown) => {
    const r = await api("POST", `/topologies/${topologyId}/mutations`, {
      op,
      payload,
      expected_version: await version()
    })
    expect(r.status).toBe(202)
    return (r.json as { mutation_id: string }).mutation_id
  }

  const map = (p: Page) => p.locator('[data-testid="topology-map"]')
  const lanInMap = (p: Page, lan: string) => map(p).locator(`[data-lan="${lan}"]`)
  const deckyInMap = (p: Page, lan: string, decky: string) =>
    lanInMap(p, lan).locator(`[data-decky="${decky}"]`)
  const live = (p: Page) => p.getByTestId("topology-live")
  /** Problems other than the 409 this test provokes on purpose. */
  const unexpected = () =>
    (admin?.problems ?? []).filter(
      (x) =>
        !/^http 409: POST .*\/topologies(\/[^/]+\/mutations)?$/.test(x) &&
        !x.includes("the server responded with a status of 409 (Conflict)")
    )

  /**
   * Since `mark`: the page fetched the topology, and each fetch followed an SSE message of the one stream
   * that was open (no new stream, no poll), and that stream delivered `mutation.applied` for `mutationId`.
   */
  const fetchedOnlyAfterEvents = (mark: number, mutationId: string) => {
    const n = network()
    const seen = n.since(mark)
    const topologyPath = `/api/v1/topologies/${topologyId}`
    expect(
      seen.filter((s) => s.kind === "request" && TOPOLOGY_STREAM.test(s.path)),
      "no new stream"
    ).toEqual([])
    const applied = seen.filter(
      (s) => s.kind === "sse" && s.event === "mutation.applied" && s.data.includes(mutationId)
    )
    expect(applied.length, "the stream's mutation.applied").toBe(1)
    let event = false
    let fetches = 0
    for (const s of seen) {
      if (s.kind === "sse" && n.isStream(s.id)) event = true
      if (s.kind === "request" && s.method === "GET" && s.path === topologyPath) {
        expect(event, `fetch #${fetches + 1} of the topology without an SSE message before it`).toBe(true)
        event = false
        fetches++
      }
    }
    expect(fetches).toBeGreaterThan(0)
  }

  /**
   * Stop the page's clock (playwright's clock, installed before the page loaded): from now on no timer of
   * the page fires unless the test runs it, so neither a poll nor a reconnect can happen by itself. (It
   * stops a second ahead of the page's time: the clock moves on while the call travels.)
   */
  const standStill = async (p: Page) => p.clock.pauseAt((await p.evaluate<number>("Date.now()")) + 1_000)
  /**
   * With the clock stood still, run only the page's callbacks due now (the zero-delay ones React Query
   * batches its updates with), never advancing its time, until `done`.
   */
  const onlyDueNow = async (p: Page, done: () => Promise<boolean>) => {
    const ok = await waitUntil(
      async () => {
        await p.clock.runFor(0)
        return (await done()) || undefined
      },
      30_000,
      25
    )
    expect(ok).toBe(true)
  }
  /**
   * A mutation enqueued through the API (behind the page's back: the page has no reason of its own to fetch)
   * reaches the page, `shown`, while its clock stands still: no poll can fire, so the stream brought it. In
   * chromium's own log besides: each fetch of the topology followed an SSE message of the one open stream,
   * and that stream delivered the mutation's `mutation.applied`.
   */
  const throughTheStream = async (op: string, payload: unknown, shown: () => Promise<boolean>) => {
    const p = page()
    await standStill(p)
    const mark = network().mark()
    const id = await enqueue(op, payload)
    await onlyDueNow(p, shown)
    fetchedOnlyAfterEvents(mark, id)
    await p.clock.resume()
    expect((await mutationState(id))?.state).toBe("applied")
  }

  /** Queue the staged edit from the form; the mutation (by the id the page shows) is applied. */
  const queueFromPage = async (p: Page) => {
    const form = p.getByRole("form", { name: "Stage an edit" })
    await form.getByRole("button", { name: "Queue the edit" }).click()
    const status = form.getByRole("status").filter({ hasText: "is queued" })
    await status.waitFor({ timeout: 10_000 })
    const id = /\(mutation ([0-9a-f-]{36})\)/.exec((await status.textContent()) ?? "")?.[1]
    if (id === undefined) throw new Error(`no mutation id in ${await status.textContent()}`)
    const done = await waitUntil(async () => {
      const m = await mutationState(id)
      return m !== undefined && m.state !== "pending" && m.state !== "applying" ? m : undefined
    }, 30_000)
    expect(done && [done.state, done.reason]).toEqual(["applied", null])
    return form
  }

  beforeAll(async () => {
    dash = await startDashboard("mazenet")
    apiUrl = dash.url
    relay = await relayTo(dash.url)
    url = relay.url
    admin = dash.admin
    const p = page()
    net = await networkOf(await p.context().newCDPSession(p))
    // The page's timers run on playwright's clock (at the real pace until a test stops it).
    await p.context().clock.install()
    // The first login forces the password change (covered by dashboard.test.ts); then the page works.
    await p.goto(`${url}/login`)
    await firstLogin(p, dash.password, NEW_PASSWORD)
    token = await apiLogin(apiUrl, "admin", NEW_PASSWORD)
  })

  // A failed step leaves a picture of the page behind (its mutations panel says what the server did), and
  // the page's clock runs again for the next one.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail" && admin !== undefined) {
      await admin.page.clock.resume()
      await admin.page.unroute(EVENTS)
      await screenshot(admin.page, `mazenet-failed-${ctx.task.name.slice(0, 24).replace(/\W+/g, "-")}`)
    }
  })

  afterAll(async () => {
    await dash?.stop()
    await relay?.close()
    await stopAll()
  })

  it("generates a topology from the page; a bad field is refused under that field", async () => {
    const p = page()
    await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "MazeNET" }).click()
    await heading(p, "MazeNET")
    await p.getByText("No topologies yet").waitFor({ timeout: 10_000 })
    await p.getByRole("button", { name: "Generate", exact: true }).click()
    const dialog = p.getByRole("dialog")
    expect(await unlabelled(p), "the generate dialog").toEqual([])
    await dialog.getByLabel("Name", { exact: true }).fill(NAME)
    await dialog.getByLabel("Depth").fill("2")
    await dialog.getByLabel("Branching").fill("2")
    await dialog.getByLabel("Deckies per LAN, min").fill("2")
    await dialog.getByLabel("Deckies per LAN, max").fill("1")
    await dialog.getByLabel("Seed").fill("7")
    await dialog.getByRole("button", { name: "Generate" }).click()
    // min > max: the max field says why, and nothing was sent
    await dialog.getByText("At least the minimum deckies per LAN").waitFor({ timeout: 5_000 })
    expect(await dialog.getByLabel("Deckies per LAN, max").getAttribute("aria-invalid")).toBe("true")
    await dialog.getByLabel("Deckies per LAN, min").fill("1")
    await dialog.getByLabel("Deckies per LAN, max").fill("2")
    await dialog.getByLabel("Services", { exact: true }).fill("ssh, redis")
    await dialog.getByRole("button", { name: "Generate" }).click()
    await heading(p, `MazeNET · ${NAME}`)
    topologyId = decodeURIComponent(new URL(p.url()).pathname.split("/").pop() ?? "")
    expect(topologyId).not.toBe("")
    await p.getByTestId("topology-status").filter({ hasText: "pending" }).first().waitFor()
    // The map: the DMZ and at least one LAN below it, joined by a bridge decky
    await lanInMap(p, "LAN-00").waitFor({ timeout: 10_000 })
    await lanInMap(p, "LAN-01").waitFor()
    expect(await map(p).locator("[data-link]").count()).toBeGreaterThan(0)
    await live(p).filter({ hasText: "Live updates" }).waitFor({ timeout: 10_000 })
    await screenshot(p, "mazenet-generated")
    expect(unexpected()).toEqual([])
  })

  it("deploys it: the status turns active on the page without a reload", async () => {
    const p = page()
    await p.evaluate("window.decnetMarker = 15")
    await p.getByRole("button", { name: "Deploy", exact: true }).click()
    await p.getByTestId("topology-status").filter({ hasText: "active" }).first().waitFor({ timeout: 90_000 })
    expect(await p.evaluate("window.decnetMarker")).toBe(15)
    await map(p).locator(".map-decky-state", { hasText: "running" }).first().waitFor({ timeout: 30_000 })
    expect(unexpected()).toEqual([])
  })

  it("live: with the stream open, a mutation made elsewhere reaches the map through the stream alone", async () => {
    const p = page()
    await live(p).filter({ hasText: "Live updates" }).waitFor({ timeout: 10_000 })
    await throughTheStream(
      "add_lan",
      { name: "lan-sse" },
      async () => (await lanInMap(p, "lan-sse").count()) > 0
    )
    await p.getByText("last event: mutation.applied").waitFor({ timeout: 10_000 })
    expect(await live(p).textContent()).toBe("Live updates")
    expect(unexpected()).toEqual([])
  })

  it("live: when the stream drops, the page polls until it reconnects, then the stream carries the next change", async () => {
    const p = page()
    const n = network()
    const shows = (lan: string) => async () => (await lanInMap(p, lan).count()) > 0
    await standStill(p)
    // New streams are refused; the open one is cut, as a network would.
    await p.route(EVENTS, (r) => r.abort("connectionrefused"))
    const down = n.mark()
    expect(relay?.cut()).toBe(1)
    await onlyDueNow(p, async () => (await live(p).textContent())?.startsWith("Reconnecting") === true)
    const id = await enqueue("add_lan", { name: "lan-poll" })
    expect(await waitUntil(async () => (await mutationState(id))?.state === "applied", 30_000)).toBe(true)
    // Applied, and nothing tells the page: while its clock stands still it shows the old map.
    await onlyDueNow(p, async () => true)
    expect(await lanInMap(p, "lan-poll").count()).toBe(0)
    // One poll interval later it has fetched the topology (the reconnect, due as well, is refused).
    await p.clock.runFor(POLL_MS)
    await onlyDueNow(p, shows("lan-poll"))
    const whileDown = n.since(down)
    expect(whileDown.filter((s) => s.kind === "sse" && n.isStream(s.id))).toEqual([])
    expect(
      whileDown.filter((s) => s.kind === "response" && TOPOLOGY_STREAM.test(s.path) && s.status === 200)
    ).toEqual([])
    expect(
      whileDown.filter(
        (s) => s.kind === "request" && s.method === "GET" && s.path === `/api/v1/topologies/${topologyId}`
      ).length
    ).toBeGreaterThan(0)
    // Streams are allowed again: at the next retry the page mints a new ticket, opens the stream and takes
    // its snapshot.
    const back = n.mark()
    await p.unroute(EVENTS)
    await p.clock.runFor(POLL_MS)
    await onlyDueNow(
      p,
      async () =>
        (await live(p).textContent()) === "Live updates" &&
        n.since(back).some((s) => s.kind === "sse" && s.event === "snapshot" && n.isStream(s.id))
    )
    const reconnected = n.since(back)
    expect(
      reconnected.filter((s) => s.kind === "request" && s.path === "/api/v1/auth/sse-ticket").length
    ).toBeGreaterThan(0)
    expect(
      reconnected.filter((s) => s.kind === "response" && TOPOLOGY_STREAM.test(s.path) && s.status === 200)
        .length
    ).toBe(1)
    await p.clock.resume()
    // and the stream carries the next change again
    await throughTheStream("remove_lan", { name: "lan-poll" }, async () => !(await shows("lan-poll")()))
    // The only problems were the cut stream and the refused ones, as chromium reports them.
    const problems = unexpected()
    admin?.reset()
    const cutOrRefused =
      /^(requestfailed: GET \S+\/api\/v1\/topologies\/[^/]+\/events\?ticket=\S+ |console: Failed to load resource: )net::(ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_CONNECTION_REFUSED)$/
    expect(problems.filter((x) => !cutOrRefused.test(x))).toEqual([])
    expect(problems.filter((x) => x.includes("ERR_INCOMPLETE_CHUNKED_ENCODING")).length).toBeGreaterThan(0)
  })

  it("applies an add_lan mutation from the page; the new LAN appears in the map without a reload", async () => {
    const p = page()
    await p.evaluate("window.decnetMarker = 16")
    const form = p.getByRole("form", { name: "Stage an edit" })
    // every control of the page has a name, for each kind of edit
    for (const op of [
      "remove_lan",
      "add_decky",
      "attach_decky",
      "detach_decky",
      "update_decky",
      "remove_decky",
      "add_lan"
    ]) {
      await form.getByLabel("Edit", { exact: true }).selectOption(op)
      expect(await unlabelled(p), `the topology page with ${op}`).toEqual([])
    }
    // the form is reached with Tab, and Tab leaves it again (no trap)
    await form.getByLabel("Edit", { exact: true }).focus()
    await p.keyboard.press("Tab")
    expect(await p.evaluate("document.activeElement && document.activeElement.labels[0].textContent")).toBe(
      "New LAN name"
    )
    await p.keyboard.type("lan-live")
    await p.keyboard.press("Tab")
    expect(await p.evaluate("document.activeElement && document.activeElement.textContent")).toBe(
      "Queue the edit"
    )
    await p.keyboard.press("Tab")
    expect(await p.evaluate(`!(document.activeElement && document.activeElement.closest("form"))`)).toBe(true)
    await queueFromPage(p)
    await lanInMap(p, "lan-live").waitFor({ timeout: 30_000 })
    expect((await detail()).lans.map((l) => l.name)).toContain("lan-live")
    await p
      .getByTestId("mutation-row")
      .filter({ hasText: "add_lan" })
      .filter({ hasText: "applied" })
      .first()
      .waitFor({ timeout: 10_000 })
    expect(await p.evaluate("window.decnetMarker")).toBe(16)
    expect(unexpected()).toEqual([])
  })

  it("adds, attaches, changes, detaches and removes a decky, and removes a LAN, from the page", async () => {
    const p = page()
    await p.evaluate("window.decnetMarker = 17")
    const form = p.getByRole("form", { name: "Stage an edit" })
    const edit = (op: string) => form.getByLabel("Edit", { exact: true }).selectOption(op)
    const deckyOf = async (name: string) => (await detail()).deckies.find((d) => d.name === name)
    const lanIdOf = async (name: string) => (await detail()).lans.find((l) => l.name === name)?.id

    // add_decky: an unknown service is refused under the field, and nothing is sent
    const before = ((await api("GET", `/topologies/${topologyId}/mutations`)).json as ReadonlyArray<unknown>)
      .length
    await edit("add_decky")
    await form.getByLabel("New decky name").fill("decky-live")
    await form.getByLabel("LAN", { exact: true }).selectOption("lan-live")
    await form.getByLabel("Services").fill("redis, telnetx")
    await form.getByRole("button", { name: "Queue the edit" }).click()
    await form.getByText("Unknown service: telnetx").waitFor({ timeout: 5_000 })
    expect(await form.getByLabel("Services").getAttribute("aria-invalid")).toBe("true")
    expect(
      ((await api("GET", `/topologies/${topologyId}/mutations`)).json as ReadonlyArray<unknown>).length
    ).toBe(before)
    await form.getByLabel("Services").fill("redis")
    await queueFromPage(p)
    await deckyInMap(p, "lan-live", "decky-live")
      .locator(".map-decky-state", { hasText: "running" })
      .waitFor({ timeout: 30_000 })
    const added = await deckyOf("decky-live")
    expect(added).toMatchObject({
      services: ["redis"],
      state: "running",
      decky_config: { ips_by_lan: { "lan-live": expect.stringMatching(/^\d+\.\d+\.\d+\.2$/) } }
    })
    // its address (from its config: a decky added live has no row address) is in the deckies table
    await p
      .getByRole("table", { name: "Deckies of the topology" })
      .getByRole("row")
      .filter({ hasText: "decky-live" })
      .filter({ hasText: added?.decky_config.ips_by_lan?.["lan-live"] ?? "no address" })
      .waitFor({ timeout: 10_000 })

    // attach_decky: only LANs it is not on are offered; it becomes a bridge to LAN-01
    await edit("attach_decky")
    await form.getByLabel("Decky").selectOption("decky-live")
    const attachable = await form.getByLabel("LAN", { exact: true }).locator("option").allTextContents()
    expect(attachable).toContain("LAN-01")
    expect(attachable).not.toContain("lan-live")
    await form.getByLabel("LAN", { exact: true }).selectOption("LAN-01")
    await queueFromPage(p)
    await map(p).locator('[data-link="decky-live->LAN-01"]').waitFor({ timeout: 30_000 })
    const attached = await deckyOf("decky-live")
    expect(Object.keys(attached?.decky_config.ips_by_lan ?? {})).toEqual(["lan-live", "LAN-01"])
    const lan01 = await lanIdOf("LAN-01")
    expect(
      (await detail()).edges.filter((e) => e.decky_uuid === attached?.uuid && e.lan_id === lan01)
    ).toMatchObject([{ is_bridge: true }])

    // update_decky: the form starts from its services; the new list replaces them
    await edit("update_decky")
    await form.getByLabel("Decky").selectOption("decky-live")
    expect(await form.getByLabel("Services").inputValue()).toBe("redis")
    await form.getByLabel("Services").fill("redis, ssh")
    await queueFromPage(p)
    await deckyInMap(p, "lan-live", "decky-live")
      .locator("title", { hasText: "services redis, ssh" })
      .waitFor({ state: "attached", timeout: 30_000 })
    expect((await deckyOf("decky-live"))?.services).toEqual(["redis", "ssh"])

    // detach_decky: only its LANs other than its home are offered
    await edit("detach_decky")
    await form.getByLabel("Decky").selectOption("decky-live")
    // (the page for the docs: a decky and a LAN added from the page, the decky bridging to LAN-01)
    await p
      .getByTestId("mutation-row")
      .filter({ hasText: "update_decky" })
      .filter({ hasText: "applied" })
      .waitFor({ timeout: 10_000 })
    await screenshot(p, "mazenet")
    expect(await form.getByLabel("LAN", { exact: true }).locator("option").allTextContents()).toEqual([
      "choose a LAN…",
      "LAN-01"
    ])
    await form.getByLabel("LAN", { exact: true }).selectOption("LAN-01")
    await queueFromPage(p)
    await map(p).locator('[data-link="decky-live->LAN-01"]').waitFor({ state: "detached", timeout: 30_000 })
    const detached = await deckyOf("decky-live")
    expect(Object.keys(detached?.decky_config.ips_by_lan ?? {})).toEqual(["lan-live"])
    expect((await detail()).edges.filter((e) => e.decky_uuid === detached?.uuid)).toHaveLength(1)

    // remove_decky
    await edit("remove_decky")
    await form.getByLabel("Decky").selectOption("decky-live")
    await queueFromPage(p)
    await deckyInMap(p, "lan-live", "decky-live").waitFor({ state: "detached", timeout: 30_000 })
    expect(await deckyOf("decky-live")).toBeUndefined()
    expect((await detail()).edges.filter((e) => e.decky_uuid === detached?.uuid)).toEqual([])

    // remove_lan: a LAN no decky calls home; never the DMZ
    await edit("remove_lan")
    const removable = await form.getByLabel("LAN", { exact: true }).locator("option").allTextContents()
    expect(removable).toContain("lan-live")
    expect(removable).not.toContain("LAN-00")
    await form.getByLabel("LAN", { exact: true }).selectOption("lan-live")
    await queueFromPage(p)
    await lanInMap(p, "lan-live").waitFor({ state: "detached", timeout: 30_000 })
    expect((await detail()).lans.map((l) => l.name)).not.toContain("lan-live")

    expect((await detail()).topology.status).toBe("active")
    await p.getByTestId("topology-status").filter({ hasText: "active" }).first().waitFor()
    expect(await p.evaluate("window.decnetMarker")).toBe(17)
    expect(unexpected()).toEqual([])
  })

  it("a mutation made behind the page's back makes the next edit a version conflict that keeps the edit", async () => {
    const p = page()
    const form = p.getByRole("form", { name: "Stage an edit" })
    await form.getByLabel("Edit", { exact: true }).selectOption("add_lan")
    await form.getByLabel("New LAN name").fill("lan-mine")
    const seen = Number(await form.getByTestId("edit-base-version").textContent())
    expect(seen).toBe(await version())
    // Someone else's edit, through the API, on the same version: the version moves on.
    const theirs = await api("POST", `/topologies/${topologyId}/mutations`, {
      op: "add_lan",
      payload: { name: "lan-theirs" },
      expected_version: seen
    })
    expect(theirs.status).toBe(202)
    await form.getByRole("button", { name: "Queue the edit" }).click()
    const conflict = p.getByTestId("version-conflict")
    await conflict.waitFor({ timeout: 10_000 })
    expect((await conflict.textContent()) ?? "").toContain(`made on version ${seen}`)
    expect((await conflict.textContent()) ?? "").toContain(`now at version ${seen + 1}`)
    // the edit is still there, as typed
    expect(await form.getByLabel("New LAN name").inputValue()).toBe("lan-mine")
    await lanInMap(p, "lan-theirs").waitFor({ timeout: 30_000 })
    await screenshot(p, "mazenet-conflict")
    await conflict.getByRole("button", { name: "Re-apply on the latest version" }).click()
    await conflict.waitFor({ state: "detached", timeout: 10_000 })
    await lanInMap(p, "lan-mine").waitFor({ timeout: 30_000 })
    expect(unexpected()).toEqual([])
  })

  it("shows the server's refusal of a duplicate name under the name field", async () => {
    const p = page()
    await p.getByRole("link", { name: "← All topologies" }).click()
    await heading(p, "MazeNET")
    await p.getByRole("link", { name: NAME }).waitFor()
    await p.getByRole("button", { name: "Generate", exact: true }).click()
    const dialog = p.getByRole("dialog")
    await dialog.getByLabel("Name", { exact: true }).fill(NAME)
    await dialog.getByRole("button", { name: "Generate" }).click()
    await dialog.getByText(`A topology named '${NAME}' already exists.`).waitFor({ timeout: 10_000 })
    expect(await dialog.getByLabel("Name", { exact: true }).getAttribute("aria-invalid")).toBe("true")
    await p.keyboard.press("Escape")
    await dialog.waitFor({ state: "hidden" })
    await p.getByRole("link", { name: NAME }).click()
    await heading(p, `MazeNET · ${NAME}`)
    expect(unexpected()).toEqual([])
  })

  it("tears down and deletes only after a confirmation", async () => {
    const p = page()
    await p.getByRole("button", { name: "Teardown", exact: true }).click()
    const dialog = p.getByRole("dialog")
    await dialog.getByText("This stops every decky").waitFor()
    await p.keyboard.press("Escape")
    await dialog.waitFor({ state: "hidden" })
    expect((await api("GET", `/topologies/${topologyId}`)).status).toBe(200)
    await p.getByRole("button", { name: "Teardown", exact: true }).click()
    await dialog.getByRole("button", { name: "Tear down" }).click()
    await p
      .getByTestId("topology-status")
      .filter({ hasText: "torn down" })
      .first()
      .waitFor({ timeout: 60_000 })
    await p.getByRole("button", { name: "Delete", exact: true }).click()
    await dialog.getByRole("button", { name: "Delete" }).click()
    await p.waitForURL(/\/topologies$/, { timeout: 10_000 })
    await heading(p, "MazeNET")
    expect((await api("GET", `/topologies/${topologyId}`)).status).toBe(404)
    expect(unexpected()).toEqual([])
  })
})
