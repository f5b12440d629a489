// Debian's chromium driven by playwright-core (issue 13): headless, a fresh --user-data-dir per context,
// the flags a machine with no network needs, nothing downloaded. Each page records its console errors,
// uncaught exceptions, failed requests and HTTP error answers, so a test can assert there were none.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium, type Page } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"
export const hasChromium = existsSync(CHROMIUM)

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** Where the page screenshots go: DECNET_SCREENSHOTS, else test-results/dashboard in the checkout. */
export const SCREENSHOTS =
  process.env.DECNET_SCREENSHOTS ?? fileURLToPath(new URL("../../test-results/dashboard", import.meta.url))

export interface Browser {
  readonly context: BrowserContext
  readonly close: () => Promise<void>
}

export const launch = async (): Promise<Browser> => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-chromium-"))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
    timezoneId: "UTC"
  })
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface Watched {
  readonly page: Page
  /** Console errors, page errors, failed requests and 4xx/5xx answers seen so far. */
  readonly problems: Array<string>
  /** Forget what was recorded (after a step that provokes errors on purpose). */
  readonly reset: () => void
}

export const watch = (page: Page): Watched => {
  const problems: Array<string> = []
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`))
  page.on("requestfailed", (r) => {
    const failure = r.failure()?.errorText ?? "failed"
    // A stream or download the page itself closed (navigation, unmount) is not a failure.
    if (failure.includes("ERR_ABORTED")) return
    problems.push(`requestfailed: ${r.method()} ${r.url()} ${failure}`)
  })
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`)
  })
  return { page, problems, reset: () => problems.splice(0) }
}

export const screenshot = async (page: Page, name: string) => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const file = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}
