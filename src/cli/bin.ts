// The process entry behind bin/decnet. With deckyBin.ts (the decky image's entry) it is the only module in
// src/ that runs an effect, through Process.ts, which composes the process (ConfigProvider → DecnetConfig →
// logger → CLI) and reports a failure once.
import { runCli } from "./main.js"
import { runProcess } from "./Process.js"

runProcess(runCli(process.argv))
