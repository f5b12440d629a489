// The web dashboard end to end (issue 13): `decnet up` as a child process, Debian's chromium through
// playwright-core. The first login forces a password change; a redis-cli touch shows in the live feed
// within 2 s without a reload; a recorded ssh session replays from its log row and downloads as a .cast;
// every page loads with no console error and no failed request (a screenshot
// of each goes to test-results/dashboard, or DECNET_SCREENSHOTS); a decky deployed from the fleet page's
// INI editor appears and answers redis-cli; a viewer sees no admin control; a bad response on one page
// leaves the navigation working; a 403 reads "admin role required"; a 401 logs the user out.
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { endpoint, redisAuth, run } from "../cli/upSupport.js"
import { stopAll } from "../support/proc.js"
import { hasChromium, launch, screenshot, type Watched, watch } from "./browser.js"
import {
  apiCall,
  apiLogin,
  type Dashboard,
  firstLogin,
  heading,
  logIn,
  onCi,
  settle,
  startDashboard,
  unlabelled
} from "./fixture.js"

const NEW_PASSWORD = "dashboard-admin-pass-1"
const ADMIN_ACTIONS =
  /^(Deploy|Mutate|Remove|Stop|Start|Start all|Create user|Delete|Reset password|Add service|Set interval|Save|Generate|Teardown|Queue the edit)\b/

const suite = hasChromium || onCi ? describe : describe.skip

suite("the web dashboard in chromium, against decnet up", () => {
  let dash: Dashboard | undefined
  let url = ""
  let admin: Watched | undefined

  const page = (): Page => {
    if (admin === undefined) throw new Error("no admin page")
    return admin.page
  }
  const upOf = () => {
    if (dash === undefined) throw new Error("no decnet up")
    return dash.up
  }

  beforeAll(async () => {
    dash = await startDashboard("dashboard")
    url = dash.url
    admin = dash.admin
  })

  afterAll(async () => {
    await dash?.stop()
    await stopAll()
  })

  it("forces a password change at the first login, then shows the overview", async () => {
    const p = page()
    await p.goto(`${url}/`)
    await p.waitForURL(/\/login/)
    await firstLogin(p, dash?.password ?? "", NEW_PASSWORD, (at) =>
      screenshot(p, at === "login" ? "01-login" : "02-change-password")
    )
    expect(new URL(p.url()).pathname).toBe("/")
    // the bootstrap password no longer works; the new one does
    expect(
      (
        await fetch(`${url}/api/v1/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "admin", password: dash?.password })
        })
      ).status
    ).toBe(401)
    expect(admin?.problems).toEqual([])
  })

  it("shows a redis-cli touch in the live feed within 2 s, without a reload", async () => {
    const p = page()
    await p.getByText("Live", { exact: true }).waitFor({ timeout: 10_000 })
    await p.evaluate("window.decnetMarker = 42")
    await redisAuth(endpoint(upOf().ready, "decky-02", "redis"), "web-user", "web-pass")
    const touched = Date.now()
    await p
      .getByTestId("feed-row")
      .filter({ hasText: "decky-02" })
      .filter({ hasText: "redis" })
      .first()
      .waitFor({ timeout: 2_000 })
    const elapsed = Date.now() - touched
    expect(elapsed).toBeLessThanOrEqual(2_000)
    expect(await p.evaluate("window.decnetMarker")).toBe(42)
    await settle(p)
    await screenshot(p, "03-overview")
    expect(admin?.problems).toEqual([])
  })

  it("replays a recorded ssh session from the log row and downloads it as an asciinema .cast", async () => {
    const ssh = endpoint(upOf().ready, "decky-01", "ssh")
    const [host = "", port = ""] = ssh.address.split(":")
    // OpenSSH with a pty (-tt) typing two commands: the fake shell records the session as an asciicast.
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        "sshpass",
        [
          "-p",
          "admin",
          "ssh",
          "-tt",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "PreferredAuthentications=password",
          "-o",
          "ConnectTimeout=10",
          "-p",
          port,
          `root@${host}`
        ],
        { stdio: ["pipe", "ignore", "ignore"] }
      )
      child.stdin.write("echo replay-marker-42\n")
      setTimeout(() => child.stdin.end("exit\n"), 1500)
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
      child.once("error", reject)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
    })
    const p = page()
    await p.goto(`${url}/logs?q=${encodeURIComponent("event:session_recorded")}`)
    await heading(p, "Live logs")
    const row = p.getByTestId("log-row").filter({ hasText: "session_recorded" }).first()
    await row.waitFor({ timeout: 10_000 })
    await row.click()
    await p.getByRole("button", { name: "Replay session" }).click()
    await p.getByRole("button", { name: /skip to (the )?end/i }).click()
    await p.getByLabel("Session replay").getByText("replay-marker-42").first().waitFor({ timeout: 10_000 })
    await screenshot(p, "03b-session-replay")
    const [download] = await Promise.all([
      p.waitForEvent("download"),
      p.getByRole("button", { name: "Download .cast" }).click()
    ])
    const file = await download.path()
    const lines = readFileSync(file, "utf8").trim().split("\n")
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ version: 2 })
    expect(lines.slice(1).some((l) => l.includes("replay-marker-42"))).toBe(true)
    await p.keyboard.press("Escape")
    expect(admin?.problems).toEqual([])
  })

  it("loads every page with no console error and no failed request, by menu and by deep link", async () => {
    const p = page()
    const pages = [
      ["Live logs", "Live logs", "/logs"],
      ["Fleet", "Fleet", "/fleet"],
      ["MazeNET", "MazeNET", "/topologies"],
      ["Credentials", "Credentials", "/credentials"],
      ["Bounty", "Bounty", "/bounty"],
      ["Workers", "Workers", "/workers"],
      ["Config", "Config", "/config"],
      ["Overview", "Overview", "/"]
    ] as const
    let n = 4
    for (const [link, title, path] of pages) {
      await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link }).click()
      await heading(p, title)
      expect(new URL(p.url()).pathname).toBe(path)
      await settle(p)
      await screenshot(p, `${String(n++).padStart(2, "0")}-${title.toLowerCase().replace(/\s+/g, "-")}`)
      expect(await unlabelled(p), `${title}: controls without an accessible name`).toEqual([])
    }
    // from the keyboard: the first Tab stop is "Skip to content"; a log row opens with Enter
    await p.goto(`${url}/logs`)
    await heading(p, "Live logs")
    await p.keyboard.press("Tab")
    expect(await p.evaluate("document.activeElement && document.activeElement.textContent")).toBe(
      "Skip to content"
    )
    await p.getByTestId("log-row").first().focus()
    await p.keyboard.press("Enter")
    await p.getByRole("dialog").waitFor({ timeout: 5_000 })
    await p.keyboard.press("Escape")
    await p.getByRole("dialog").waitFor({ state: "hidden", timeout: 5_000 })
    // a deep link loads the app at that page (the server's SPA fallback)
    await p.goto(`${url}/credentials?search=web-user`)
    await heading(p, "Credentials")
    await settle(p)
    await p.getByText("web-user").first().waitFor({ timeout: 5_000 })
    // light theme
    await p.getByRole("button", { name: /Switch to the light theme/ }).click()
    expect(await p.evaluate("document.documentElement.dataset.theme")).toBe("light")
    await screenshot(p, `${String(n++).padStart(2, "0")}-credentials-light`)
    await p.getByRole("button", { name: /Switch to the dark theme/ }).click()
    expect(admin?.problems).toEqual([])
  })

  it("deploys a decky from the fleet page's INI editor; it appears and answers redis-cli", async () => {
    const p = page()
    await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Fleet" }).click()
    await heading(p, "Fleet")
    await p.getByRole("button", { name: "Deploy", exact: true }).first().click()
    const editor = p.getByLabel("INI", { exact: true })
    await editor.fill("[decky-web]\nservices=redis\n")
    await p.getByRole("dialog").getByRole("button", { name: "Deploy", exact: true }).click()
    await p.getByText("succeeded").first().waitFor({ timeout: 30_000 })
    await p.getByRole("cell", { name: "decky-web", exact: true }).first().waitFor({ timeout: 15_000 })
    await screenshot(p, "12-fleet-deployed")
    const token = await apiLogin(url, "admin", NEW_PASSWORD)
    const status = (await apiCall(url, token, "GET", "/deckies/status")).json as {
      deckies: Array<{ name: string; ports: Array<{ service: string; host: string; port: number }> }>
    }
    const redis = status.deckies.find((d) => d.name === "decky-web")?.ports.find((x) => x.service === "redis")
    expect(redis).toBeDefined()
    if (redis === undefined) return
    const out = await run(
      "redis-cli",
      ["-h", redis.host, "-p", String(redis.port), "AUTH", "deployed", "pw"],
      {
        timeout: 10_000
      }
    )
    expect(out.stdout.trim()).not.toBe("")
    expect(admin?.problems).toEqual([])
  })

  it("shows a viewer no admin control", async () => {
    const token = await apiLogin(url, "admin", NEW_PASSWORD)
    const created = await apiCall(url, token, "POST", "/config/users", {
      username: "watcher",
      password: "viewer-password-1",
      role: "viewer"
    })
    expect(created.status).toBe(200)
    const first = await apiLogin(url, "watcher", "viewer-password-1")
    const changed = await apiCall(url, first, "POST", "/auth/change-password", {
      old_password: "viewer-password-1",
      new_password: "viewer-password-2"
    })
    expect(changed.status).toBe(200)
    const viewerBrowser = await launch()
    try {
      const v = watch(await viewerBrowser.context.newPage())
      await v.page.goto(`${url}/login`)
      await logIn(v.page, "watcher", "viewer-password-2")
      await heading(v.page, "Overview")
      await v.page.getByText("viewer", { exact: true }).waitFor()
      for (const [link, title] of [
        ["Fleet", "Fleet"],
        ["MazeNET", "MazeNET"],
        ["Workers", "Workers"],
        ["Config", "Config"],
        ["Live logs", "Live logs"],
        ["Credentials", "Credentials"]
      ] as const) {
        await v.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link }).click()
        await heading(v.page, title)
        await settle(v.page)
        const buttons = await v.page.getByRole("button").allInnerTexts()
        expect(
          buttons.filter((b) => ADMIN_ACTIONS.test(b.trim())),
          `${title} as a viewer`
        ).toEqual([])
        if (title === "Fleet")
          await v.page.getByRole("cell", { name: "decky-web", exact: true }).first().waitFor()
        if (title === "Config") await screenshot(v.page, "13-viewer-config")
      }
      expect(v.problems).toEqual([])
    } finally {
      await viewerBrowser.close()
    }
  })

  it("keeps the navigation working when one page gets a bad response; a 403 reads 'admin role required'", async () => {
    const p = page()
    await p.route("**/api/v1/workers", (r) =>
      r.fulfill({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify({ surprise: [1, 2, 3] })
      })
    )
    await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workers" }).click()
    await p.getByRole("alert").first().waitFor({ timeout: 10_000 })
    await screenshot(p, "14-bad-response")
    await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).click()
    await heading(p, "Overview")
    await p.getByRole("region", { name: "Events", exact: true }).waitFor()
    await p.unroute("**/api/v1/workers")

    await p.route("**/api/v1/bounty?*", (r) =>
      r.fulfill({
        status: 403,
        contentType: "application/json",
        body: JSON.stringify({ detail: "Insufficient permissions" })
      })
    )
    await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Bounty" }).click()
    await p.getByText("admin role required").first().waitFor({ timeout: 10_000 })
    await p.unroute("**/api/v1/bounty?*")
    admin?.reset()
  })

  it("logs the user out on a 401", async () => {
    const p = page()
    await p.route("**/api/v1/credentials?*", (r) =>
      r.fulfill({
        status: 401,
        contentType: "application/json",
        body: JSON.stringify({ detail: "Could not validate credentials" })
      })
    )
    await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Credentials" }).click()
    await p.waitForURL(/\/login/, { timeout: 10_000 })
    await p.getByText("Your session ended").waitFor()
    expect(await p.evaluate(`localStorage.getItem("token")`)).toBeNull()
    await p.unroute("**/api/v1/credentials?*")
  })
})
