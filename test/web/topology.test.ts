// The dashboard's MazeNET page end to end (issue 15): `decnet up` as a child process, Debian's chromium
// through playwright-core (test/web/browser.ts). An admin generates a small topology from the page (a field
// error first), deploys it and sees it become active on its map. A LAN added as a mutation from the page
// appears in the map without a reload: the topology's SSE stream says so, and while a mutation is in flight
// the page also polls, so this test passes on either (test/cli/upTopology.test.ts shows the stream itself
// carrying the mutation's events inside `decnet up`). A mutation enqueued through the API behind the page's back makes the page's next edit a version
// conflict, which says so with the current version, keeps the edit, and re-applies it on the latest
// version. Teardown and delete ask first. A screenshot of the page goes to test-results/dashboard (or
// DECNET_SCREENSHOTS) as mazenet.png.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type Ready, startUp } from "../cli/upSupport.js"
import { cleanEnv, type Proc, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { type Browser, hasChromium, launch, SCREENSHOTS, screenshot, type Watched, watch } from "./browser.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const NEW_PASSWORD = "mazenet-admin-pass-1"
const NAME = "maze-e2e"

const suite = hasChromium || onCi ? describe : describe.skip

suite("the MazeNET page in chromium, against decnet up", () => {
  let up: { proc: Proc; ready: Ready } | undefined
  let url = ""
  let password = ""
  let browser: Browser | undefined
  let admin: Watched | undefined
  let topologyId = ""

  const page = (): Page => {
    if (admin === undefined) throw new Error("no admin page")
    return admin.page
  }
  const apiToken = async () => {
    const res = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: NEW_PASSWORD })
    })
    const body: unknown = await res.json()
    if (typeof body !== "object" || body === null || !("access_token" in body))
      throw new Error(`login: ${JSON.stringify(body)}`)
    return String(body.access_token)
  }
  const apiCall = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${await apiToken()}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: res.status, json: (await res.json().catch(() => null)) as unknown }
  }
  const version = async (): Promise<number> => {
    const r = await apiCall("GET", `/topologies/${topologyId}`)
    const t = (r.json as { topology?: { version?: unknown } }).topology
    if (typeof t?.version !== "number") throw new Error(`GET /topologies/${topologyId}: ${JSON.stringify(r)}`)
    return t.version
  }
  const heading = (p: Page, name: string) =>
    p.getByRole("heading", { level: 1, name }).waitFor({ timeout: 10_000 })
  /** Visible inputs, selects, textareas and buttons with no accessible name (as dashboard.test.ts checks). */
  const unlabelled = async (p: Page) =>
    (await p.evaluate(`[...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => el.offsetParent !== null && el.type !== "hidden")
      .filter((el) => !(el.labels && el.labels.length > 0) && !el.getAttribute("aria-label")
        && !el.getAttribute("aria-labelledby") && !(el.tagName === "BUTTON" && el.textContent.trim() !== "")
        && !el.getAttribute("title"))
      .map((el) => el.outerHTML.slice(0, 120))`)) as Array<string>
  const lanInMap = (p: Page, lan: string) => p.locator(`[data-testid="topology-map"] [data-lan="${lan}"]`)
  /** Problems other than the 409 this test provokes on purpose. */
  const unexpected = () =>
    (admin?.problems ?? []).filter(
      (x) =>
        !/^http 409: POST .*\/topologies(\/[^/]+\/mutations)?$/.test(x) &&
        !x.includes("the server responded with a status of 409 (Conflict)")
    )

  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), "decnet-web-mazenet-"))
    const port = await freePort()
    up = await startUp(
      cleanEnv({ HOME: home, DECNET_CONFIG: join(home, "absent.ini"), DECNET_API_PORT: String(port) })
    )
    const info = (up.ready as unknown as { api: { url: string; password?: string } }).api
    url = info.url
    password = info.password ?? ""
    browser = await launch()
    admin = watch(await browser.context.newPage())
    // The first login forces the password change (covered by dashboard.test.ts); then the page works.
    const p = page()
    await p.goto(`${url}/login`)
    await p.getByLabel("User name").fill("admin")
    await p.getByLabel("Password").fill(password)
    await p.getByRole("button", { name: "Log in" }).click()
    await heading(p, "Choose a new password")
    await p.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD)
    await p.getByLabel("Repeat the new password").fill(NEW_PASSWORD)
    await p.getByRole("button", { name: "Change password" }).click()
    await heading(p, "Overview")
  })

  // A failed step leaves a picture of the page behind (its mutations panel says what the server did).
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail" && admin !== undefined)
      await screenshot(admin.page, `mazenet-failed-${ctx.task.name.slice(0, 24).replace(/\W+/g, "-")}`)
  })

  afterAll(async () => {
    await browser?.close()
    up?.proc.child.kill("SIGINT")
    await stopAll()
    if (onCi || process.env.DECNET_SCREENSHOTS !== undefined)
      console.log(`mazenet screenshots: ${SCREENSHOTS}`)
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
    expect(await p.locator('[data-testid="topology-map"] [data-link]').count()).toBeGreaterThan(0)
    await p.getByText("Live updates").waitFor({ timeout: 10_000 })
    await screenshot(p, "mazenet-generated")
    expect(unexpected()).toEqual([])
  })

  it("deploys it: the status turns active on the page without a reload", async () => {
    const p = page()
    await p.evaluate("window.decnetMarker = 15")
    await p.getByRole("button", { name: "Deploy", exact: true }).click()
    await p.getByTestId("topology-status").filter({ hasText: "active" }).first().waitFor({ timeout: 90_000 })
    expect(await p.evaluate("window.decnetMarker")).toBe(15)
    await p.locator('[data-testid="topology-map"] .map-decky-state', { hasText: "running" }).first().waitFor({
      timeout: 30_000
    })
    expect(unexpected()).toEqual([])
  })

  it("applies an add_lan mutation from the page; the new LAN appears in the map without a reload", async () => {
    const p = page()
    await p.evaluate("window.decnetMarker = 16")
    const form = p.getByRole("form", { name: "Stage an edit" })
    // every control of the page has a name, for each kind of edit; the form is reached with Tab
    for (const op of ["add_decky", "attach_decky", "remove_decky", "add_lan"]) {
      await form.getByLabel("Edit", { exact: true }).selectOption(op)
      expect(await unlabelled(p), `the topology page with ${op}`).toEqual([])
    }
    await form.getByLabel("Edit", { exact: true }).focus()
    await p.keyboard.press("Tab")
    expect(await p.evaluate("document.activeElement && document.activeElement.labels[0].textContent")).toBe(
      "New LAN name"
    )
    await p.keyboard.type("lan-live")
    await form.getByRole("button", { name: "Queue the edit" }).click()
    await form.getByRole("status").filter({ hasText: "is queued" }).waitFor({ timeout: 10_000 })
    await lanInMap(p, "lan-live").waitFor({ timeout: 30_000 })
    await p
      .getByTestId("mutation-row")
      .filter({ hasText: "add_lan" })
      .filter({ hasText: "applied" })
      .first()
      .waitFor({ timeout: 10_000 })
    expect(await p.evaluate("window.decnetMarker")).toBe(16)
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
    const theirs = await apiCall("POST", `/topologies/${topologyId}/mutations`, {
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
    await p.waitForTimeout(500)
    await screenshot(p, "mazenet")
    expect(unexpected()).toEqual([])
  })

  it("reads the stream's named events: a mutation.applied frame refetches the topology", async () => {
    // The stream's frames as the server writes them (spec §8), served by a stub so this holds whether or
    // not the bus delivers: the page must take each named event, not only `message`.
    const p = page()
    const frames = [
      ": keepalive\n\n",
      `event: snapshot\ndata: ${JSON.stringify({ topology_id: topologyId, status: "active", in_flight: [] })}\n\n`,
      `event: mutation.applied\ndata: ${JSON.stringify({
        topic: `topology.${topologyId}.mutation.applied`,
        type: "applied",
        ts: Date.now() / 1000,
        payload: { mutation_id: "stub", op: "add_lan" }
      })}\n\n`
    ].join("")
    await p.route("**/api/v1/topologies/*/events?*", (r) =>
      r.fulfill({ status: 200, contentType: "text/event-stream", body: frames })
    )
    const refetched = p.waitForResponse(
      (r) => r.url().endsWith(`/api/v1/topologies/${topologyId}`) && r.status() === 200,
      { timeout: 15_000 }
    )
    await p.reload()
    await heading(p, `MazeNET · ${NAME}`)
    await p.getByText("last event: mutation.applied").waitFor({ timeout: 15_000 })
    await refetched
    await p.unroute("**/api/v1/topologies/*/events?*")
    await p.getByText("Live updates").waitFor({ timeout: 15_000 })
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
    expect((await apiCall("GET", `/topologies/${topologyId}`)).status).toBe(200)
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
    expect((await apiCall("GET", `/topologies/${topologyId}`)).status).toBe(404)
    expect(unexpected()).toEqual([])
  })
})
