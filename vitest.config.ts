import { defineConfig } from "vitest/config"
import SummaryReporter from "./test/support/SummaryReporter.js"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests use real sockets, MariaDB, NATS and spawned clients; two forks match a 2-core box.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default", new SummaryReporter()]
  }
})
