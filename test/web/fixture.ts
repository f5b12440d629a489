// What the dashboard's browser tests share (issues 13 and 15): `decnet up` as a child process serving the
// API and the dashboard on a free loopback port, Debian's chromium with one watched admin page
// (browser.ts), the API called directly as a second client, the first admin login (a password change is
// forced), and the page checks: a level-1 heading, no control without an accessible name, nothing still
// loading.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { type Ready, startUp } from "../cli/upSupport.js"
import { freePort } from "../support/ports.js"
import { cleanEnv, type Proc, stopAll } from "../support/proc.js"
import { type Browser, launch, SCREENSHOTS, type Watched, watch } from "./browser.js"

export const onCi = process.env.CI !== undefined && process.env.CI !== ""

export interface Dashboard {
  readonly up: { readonly proc: Proc; readonly ready: Ready }
  /** Where `decnet up` serves the API and the dashboard. */
  readonly url: string
  /** The admin password `decnet up` printed; the first login must change it. */
  readonly password: string
  readonly browser: Browser
  /** The admin's page, recording console errors, failed requests and HTTP errors. */
  readonly admin: Watched
  /** Close the browser and stop `decnet up` (and any other child of the test); on CI, say where the
   * screenshots are. */
  readonly stop: () => Promise<void>
}

/** The `api` part of `decnet up --json`'s ready line. */
const apiOf = (ready: unknown): { url: string; password: string } => {
  const api = typeof ready === "object" && ready !== null && "api" in ready ? ready.api : undefined
  if (typeof api !== "object" || api === null || !("url" in api) || typeof api.url !== "string")
    throw new Error(`no api in the ready line: ${JSON.stringify(ready)}`)
  return { url: api.url, password: "password" in api && typeof api.password === "string" ? api.password : "" }
}

/** `decnet up` in a fresh HOME (no config file), and a browser with the admin's page (not logged in). */
export const startDashboard = async (name: string): Promise<Dashboard> => {
  const home = mkdtempSync(join(tmpdir(), `decnet-web-${name}-`))
  const port = await freePort()
  // DECNET_TEST_WEB_DIR: another build of the dashboard (vite --outDir), as DECNET_TEST_CLI_BUNDLE is for the CLI.
  const web = process.env.DECNET_TEST_WEB_DIR
  const up = await startUp(
    cleanEnv({
      HOME: home,
      DECNET_CONFIG: join(home, "absent.ini"),
      DECNET_API_PORT: String(port),
      ...(web === undefined || web === "" ? {} : { DECNET_WEB_DIR: web })
    })
  )
  const { url, password } = apiOf(up.ready)
  const browser = await launch()
  const admin = watch(await browser.context.newPage())
  return {
    up,
    url,
    password,
    browser,
    admin,
    stop: async () => {
      await browser.close()
      up.proc.child.kill("SIGINT")
      await stopAll()
      if (onCi || process.env.DECNET_SCREENSHOTS !== undefined)
        console.log(`${name} screenshots: ${SCREENSHOTS}`)
    }
  }
}

// ---- the API, as a second client ------------------------------------------------------------------------

export const apiLogin = async (url: string, username: string, password: string): Promise<string> => {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password })
  })
  const body: unknown = await res.json()
  if (typeof body !== "object" || body === null || !("access_token" in body))
    throw new Error(`login as ${username}: ${res.status} ${JSON.stringify(body)}`)
  return String(body.access_token)
}

export const apiCall = async (url: string, token: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.status, json: (await res.json().catch(() => null)) as unknown }
}

// ---- pages ----------------------------------------------------------------------------------------------

export const heading = (p: Page, name: string) =>
  p.getByRole("heading", { level: 1, name }).waitFor({ timeout: 10_000 })

/** Until nothing on the page says it is loading, then a little more for late requests. */
export const settle = async (p: Page) => {
  await p.locator('[aria-busy="true"]').first().waitFor({ state: "detached", timeout: 10_000 })
  await p.waitForTimeout(600)
}

/** Visible inputs, selects, textareas and buttons with no accessible name (label, aria-*, text or title). */
export const unlabelled = async (p: Page) =>
  (await p.evaluate(`[...document.querySelectorAll("input, select, textarea, button")]
    .filter((el) => el.offsetParent !== null && el.type !== "hidden")
    .filter((el) => !(el.labels && el.labels.length > 0) && !el.getAttribute("aria-label")
      && !el.getAttribute("aria-labelledby") && !(el.tagName === "BUTTON" && el.textContent.trim() !== "")
      && !el.getAttribute("title"))
    .map((el) => el.outerHTML.slice(0, 120))`)) as Array<string>

/** Log in from the login page the browser is on. */
export const logIn = async (p: Page, username: string, password: string) => {
  await p.getByLabel("User name").fill(username)
  await p.getByLabel("Password").fill(password)
  await p.getByRole("button", { name: "Log in" }).click()
}

/**
 * The admin's first login, from the login page: the printed password, then the forced change to
 * `newPassword`; it ends on the overview. `step` runs on the login page and on the change-password page.
 */
export const firstLogin = async (
  p: Page,
  password: string,
  newPassword: string,
  step: (at: "login" | "change-password") => Promise<unknown> = async () => undefined
) => {
  await step("login")
  await logIn(p, "admin", password)
  await heading(p, "Choose a new password")
  await step("change-password")
  await p.getByLabel("New password", { exact: true }).fill(newPassword)
  await p.getByLabel("Repeat the new password").fill(newPassword)
  await p.getByRole("button", { name: "Change password" }).click()
  await heading(p, "Overview")
}
