import { defineConfig } from "vitest/config"
import SummaryReporter from "./test/support/SummaryReporter.js"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The CLI tests spawn the shipped bundle (dist/bin/decnet.js); it is rebuilt from src/ first.
    globalSetup: ["test/support/buildCli.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests use real sockets, MariaDB, NATS and spawned clients; two forks match a 2-core box.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default", new SummaryReporter()]
  }
})
