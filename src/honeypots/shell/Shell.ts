/**
 * The fake interactive shell shared by ssh and telnet: a pure state machine. `run(line)` parses one
 * command line (quotes, `;` `&&` `||`, pipes into grep/head/tail/wc, `>`/`>>`) and returns the
 * output plus the side effects the transport must act on (log commands, exit, read a password).
 */
import { buildFilesystem, Filesystem, type FsPersona, normalizePath } from "./Filesystem.js"

export interface ShellPersona extends FsPersona {
  /** The decky's own address, shown by ifconfig / ip a. */
  readonly localIp: string
  readonly uptimeSeconds: () => number
  readonly srcIp: string
}

export interface ShellCommand {
  readonly cmd: string
  readonly pwd: string
}

export interface ShellResult {
  readonly output: string
  /** Command lines the attacker entered (one per line, as bash history would record them). */
  readonly commands: ReadonlyArray<ShellCommand>
  readonly exit: boolean
  /** The next line is a password (no echo): `sudo`. */
  readonly secretPrompt: boolean
  /** `$?` after the line: the exec channel's exit status. */
  readonly status: number
}

/** Bound every command's output so `cat /dev/zero`-style tricks cannot grow a reply. */
export const MAX_OUTPUT = 64 * 1024
const MAX_LINE = 16 * 1024
const MAX_PIPELINE = 64

type Token =
  | { readonly kind: "word"; readonly value: string }
  | { readonly kind: "op"; readonly value: string }

/** Split a command line into words and operators, honouring '…', "…" and backslash escapes. */
export const tokenize = (line: string, env: ReadonlyMap<string, string>): Array<Token> => {
  const tokens: Array<Token> = []
  let word = ""
  let inWord = false
  const flush = () => {
    if (inWord) tokens.push({ kind: "word", value: word })
    word = ""
    inWord = false
  }
  const expand = (i: number): [string, number] => {
    const braced = line[i + 1] === "{"
    const re = braced ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/ : /^\$([A-Za-z_][A-Za-z0-9_]*|\?|\$)/
    const m = re.exec(line.slice(i, i + 128))
    if (m === null) return ["$", i + 1]
    const name = m[1]!
    const value =
      name === "?" ? (env.get("?") ?? "0") : name === "$" ? (env.get("$$") ?? "1") : (env.get(name) ?? "")
    return [value, i + m[0].length]
  }
  let i = 0
  while (i < line.length) {
    const c = line[i]!
    if (c === "'") {
      const end = line.indexOf("'", i + 1)
      word += end < 0 ? line.slice(i + 1) : line.slice(i + 1, end)
      inWord = true
      i = end < 0 ? line.length : end + 1
    } else if (c === '"') {
      inWord = true
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length) {
          word += line[i + 1]
          i += 2
        } else if (line[i] === "$") {
          const [v, j] = expand(i)
          word += v
          i = j
        } else word += line[i++]
      }
      i++
    } else if (c === "\\") {
      word += line[i + 1] ?? ""
      inWord = true
      i += 2
    } else if (c === "$") {
      const [v, j] = expand(i)
      word += v
      inWord = true
      i = j
    } else if (c === " " || c === "\t") {
      flush()
      i++
    } else if (c === "#" && !inWord) {
      break
    } else if (";|&><".includes(c)) {
      flush()
      const two = line.slice(i, i + 2)
      const op = ["&&", "||", ">>", "2>"].includes(two) ? two : c
      tokens.push({ kind: "op", value: op })
      i += op.length
    } else {
      word += c
      inWord = true
      i++
    }
  }
  flush()
  return tokens
}

interface Simple {
  readonly argv: Array<string>
  readonly redirect?: { readonly path: string; readonly append: boolean }
}
interface Pipeline {
  readonly stages: Array<Simple>
  /** How this pipeline joins the previous one. */
  readonly join: ";" | "&&" | "||"
}

const parse = (tokens: ReadonlyArray<Token>): Array<Pipeline> => {
  const pipelines: Array<Pipeline> = []
  let stages: Array<Simple> = []
  let argv: Array<string> = []
  let redirect: Simple["redirect"]
  let join: Pipeline["join"] = ";"
  const endStage = () => {
    if (argv.length > 0 || redirect !== undefined)
      stages.push(redirect === undefined ? { argv } : { argv, redirect })
    argv = []
    redirect = undefined
  }
  const endPipeline = (next: Pipeline["join"]) => {
    endStage()
    if (stages.length > 0) pipelines.push({ stages, join })
    stages = []
    join = next
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.kind === "word") argv.push(t.value)
    else if (t.value === "|") endStage()
    else if (t.value === ";" || t.value === "&") endPipeline(";")
    else if (t.value === "&&" || t.value === "||") endPipeline(t.value)
    else if (t.value === ">" || t.value === ">>" || t.value === "2>") {
      const target = tokens[i + 1]
      if (target?.kind === "word") {
        i++
        if (t.value !== "2>") redirect = { path: target.value, append: t.value === ">>" }
      }
    } else if (t.value === "<") i++
  }
  endPipeline(";")
  return pipelines.slice(0, MAX_PIPELINE)
}

const formatUptime = (seconds: number): string => {
  const days = Math.floor(seconds / 86400)
  const hours = Math.floor((seconds % 86400) / 3600)
  const mins = Math.floor((seconds % 3600) / 60)
  const hm = hours > 0 ? `${hours}:${String(mins).padStart(2, "0")}` : `${mins} min`
  return days > 0 ? `${days} day${days === 1 ? "" : "s"}, ${hm}` : hm
}

const clock = (): string => new Date().toISOString().slice(11, 19)

const BUILTINS = new Set([
  "cd",
  "echo",
  "export",
  "history",
  "exit",
  "logout",
  "pwd",
  "alias",
  "unset",
  "type",
  "set"
])
const KNOWN = [
  "ls",
  "cat",
  "whoami",
  "id",
  "uname",
  "hostname",
  "w",
  "uptime",
  "ps",
  "free",
  "df",
  "ifconfig",
  "ip",
  "env",
  "which",
  "touch",
  "mkdir",
  "rm",
  "wget",
  "curl",
  "sudo",
  "clear",
  "grep",
  "head",
  "tail",
  "wc",
  "date",
  "sh",
  "bash",
  "python3",
  "perl",
  "chmod",
  "cp",
  "mv",
  "nproc",
  "lscpu",
  "last",
  "netstat",
  "ss",
  "crontab",
  "busybox"
]

export class Shell {
  readonly persona: ShellPersona
  readonly user: string
  readonly home: string
  cwd: string
  private readonly fs: Filesystem
  private readonly env: Map<string, string>
  private readonly history: Array<string> = []
  private pendingSudo: ReadonlyArray<string> | undefined
  private lastStatus = 0

  constructor(persona: ShellPersona, user: string) {
    this.persona = persona
    this.user = user
    this.home = user === "root" ? "/root" : `/home/${user}`
    this.cwd = this.home
    this.fs = new Filesystem(buildFilesystem({ ...persona, user }))
    if (this.fs.lookup(this.home) === undefined) this.fs.mkdir(this.home)
    this.env = new Map([
      ["SHELL", "/bin/bash"],
      ["PWD", this.cwd],
      ["LOGNAME", user],
      ["HOME", this.home],
      ["LANG", "C.UTF-8"],
      ["TERM", "xterm-256color"],
      ["USER", user],
      ["SHLVL", "1"],
      ["SSH_CLIENT", `${persona.srcIp} 22`],
      [
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games:/snap/bin"
      ],
      ["$$", "1437"]
    ])
  }

  get uid(): number {
    return this.user === "root" ? 0 : 1000
  }

  prompt(): string {
    const shown =
      this.cwd === this.home
        ? "~"
        : this.cwd.startsWith(`${this.home}/`)
          ? `~${this.cwd.slice(this.home.length)}`
          : this.cwd
    return `${this.user}@${this.persona.hostname}:${shown}${this.user === "root" ? "#" : "$"} `
  }

  /** Feed one input line (without its newline). Never throws; output is bounded. */
  run(rawLine: string): ShellResult {
    const line = rawLine.slice(0, MAX_LINE)
    if (this.pendingSudo !== undefined) {
      const argv = this.pendingSudo
      this.pendingSudo = undefined
      // Any password "works": the attacker reveals what they think it is, and keeps going.
      this.lastStatus = 0
      const output = this.bounded(this.exec(argv, ""))
      return { output, commands: [], exit: false, secretPrompt: false, status: this.lastStatus }
    }
    const trimmed = line.trim()
    if (trimmed === "") return { output: "", commands: [], exit: false, secretPrompt: false, status: 0 }
    this.history.push(trimmed)
    if (this.history.length > 1000) this.history.shift()
    const commands = [{ cmd: trimmed, pwd: this.cwd }]
    let output = ""
    let exit = false
    let secretPrompt = false
    let status = 0
    for (const pipeline of parse(tokenize(line, this.env))) {
      if (pipeline.join === "&&" && status !== 0) continue
      if (pipeline.join === "||" && status === 0) continue
      let input = ""
      status = 0
      for (const [index, stage] of pipeline.stages.entries()) {
        const [cmd] = stage.argv
        if (cmd === "exit" || cmd === "logout") {
          exit = true
          break
        }
        if (cmd === "sudo" && this.user !== "root" && stage.argv.length > 1) {
          this.pendingSudo = stage.argv.slice(1)
          secretPrompt = true
          output += `[sudo] password for ${this.user}: `
          break
        }
        this.lastStatus = 0
        let out = this.exec(stage.argv, input, index > 0)
        status = this.lastStatus
        if (stage.redirect !== undefined) {
          const path = normalizePath(this.cwd, stage.redirect.path, this.home)
          if (!this.fs.write(path, out, stage.redirect.append)) {
            out = `bash: ${stage.redirect.path}: No such file or directory\n`
            status = 1
          } else out = ""
        }
        input = out
        if (input.length > MAX_OUTPUT) input = input.slice(0, MAX_OUTPUT)
      }
      output += input
      this.env.set("?", String(status))
      if (exit || secretPrompt || output.length > MAX_OUTPUT) break
    }
    return { output: this.bounded(output), commands, exit, secretPrompt, status }
  }

  private bounded(s: string): string {
    return s.length > MAX_OUTPUT ? s.slice(0, MAX_OUTPUT) : s
  }

  private fail(msg: string, status = 1): string {
    this.lastStatus = status
    return msg
  }

  private resolve(p: string): string {
    return normalizePath(this.cwd, p, this.home)
  }

  private exec(argv: ReadonlyArray<string>, stdin: string, piped = false): string {
    const [cmd, ...rest] = argv
    if (cmd === undefined) return ""
    const args = rest.filter((a) => !a.startsWith("-"))
    const flags = rest.filter((a) => a.startsWith("-")).join("")
    const p = this.persona
    switch (cmd) {
      case "pwd":
        return `${this.cwd}\n`
      case "cd": {
        const target = this.resolve(args[0] ?? this.home)
        const node = this.fs.lookup(target)
        if (node === undefined) return this.fail(`bash: cd: ${args[0]}: No such file or directory\n`)
        if (node.kind !== "dir") return this.fail(`bash: cd: ${args[0]}: Not a directory\n`)
        this.cwd = target
        this.env.set("PWD", target)
        return ""
      }
      case "echo": {
        const noNl = rest[0] === "-n"
        const words = noNl || rest[0] === "-e" ? rest.slice(1) : rest
        return `${words.join(" ")}${noNl ? "" : "\n"}`
      }
      case "whoami":
        return `${this.user}\n`
      case "id":
        return this.uid === 0
          ? "uid=0(root) gid=0(root) groups=0(root)\n"
          : `uid=1000(${this.user}) gid=1000(${this.user}) groups=1000(${this.user}),4(adm),24(cdrom),27(sudo),30(dip),46(plugdev)\n`
      case "hostname":
        return `${p.hostname}\n`
      case "uname": {
        if (flags.includes("a"))
          return `Linux ${p.hostname} ${p.kernel} ${p.kernelBuild} x86_64 x86_64 x86_64 GNU/Linux\n`
        if (flags.includes("r")) return `${p.kernel}\n`
        if (flags.includes("n")) return `${p.hostname}\n`
        if (flags.includes("m")) return "x86_64\n"
        return "Linux\n"
      }
      case "uptime":
        return ` ${clock()} up ${formatUptime(p.uptimeSeconds())},  1 user,  load average: 0.08, 0.03, 0.01\n`
      case "w":
        return ` ${clock()} up ${formatUptime(p.uptimeSeconds())},  1 user,  load average: 0.08, 0.03, 0.01
USER     TTY      FROM             LOGIN@   IDLE   JCPU   PCPU WHAT
${this.user.padEnd(8).slice(0, 8)} pts/0    ${p.srcIp.padEnd(16).slice(0, 16)} ${clock().slice(0, 5)}    0.00s  0.02s  0.00s w
`
      case "ps":
        return flags.includes("a") || flags.includes("e") || args.includes("aux")
          ? `USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.2 167744 11540 ?        Ss   Oct12   0:09 /sbin/init
root           2  0.0  0.0      0     0 ?        S    Oct12   0:00 [kthreadd]
root         412  0.0  0.4  47448 18912 ?        S<s  Oct12   0:03 /lib/systemd/systemd-journald
root         633  0.0  0.1  15424  7304 ?        Ss   Oct12   0:00 sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups
root         640  0.0  0.0   6896  2964 ?        Ss   Oct12   0:01 /usr/sbin/cron -f
mysql        702  0.3 10.1 2412204 407100 ?      Ssl  Oct12  21:44 /usr/sbin/mysqld
root         911  0.1  1.1 318456 45032 ?        Ssl  Oct12   8:02 /usr/bin/python3 /root/projects/app.py
root        1437  0.0  0.1   8952  5560 pts/0    Ss   ${clock().slice(0, 5)}   0:00 -bash
root        1502  0.0  0.0  10072  3412 pts/0    R+   ${clock().slice(0, 5)}   0:00 ps ${rest.join(" ")}
`
          : `    PID TTY          TIME CMD\n   1437 pts/0    00:00:00 bash\n   1502 pts/0    00:00:00 ps\n`
      case "free":
        return `               total        used        free      shared  buff/cache   available
Mem:         4013888     1002344      312044        1204     2699500     2689320
Swap:        2097148       32512     2064636
`
      case "df":
        return `Filesystem     ${flags.includes("h") ? "Size  Used Avail" : "1K-blocks    Used Available"} Use% Mounted on
${flags.includes("h") ? "/dev/sda1       39G   12G   25G  33% /\ntmpfs          2.0G     0  2.0G   0% /dev/shm\n/dev/sda15     105M  6.1M   99M   6% /boot/efi" : "/dev/sda1       40581564 12384520  26109404  33% /\ntmpfs           2006944        0   2006944   0% /dev/shm\n/dev/sda15        106858     6186    100672   6% /boot/efi"}
`
      case "ifconfig":
        return `eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500
        inet ${p.localIp}  netmask 255.255.255.0  broadcast ${p.localIp.replace(/\.\d+$/, ".255")}
        ether 02:42:ac:11:00:02  txqueuelen 0  (Ethernet)
        RX packets 1849021  bytes 1184473621 (1.1 GB)
        TX packets 1203847  bytes 301948201 (301.9 MB)

lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536
        inet 127.0.0.1  netmask 255.0.0.0
        loop  txqueuelen 1000  (Local Loopback)
`
      case "ip":
        if (args[0] === "a" || args[0] === "addr" || args[0] === "address")
          return `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default
    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet ${p.localIp}/24 brd ${p.localIp.replace(/\.\d+$/, ".255")} scope global eth0
       valid_lft forever preferred_lft forever
`
        if (args[0] === "r" || args[0] === "route")
          return `default via ${p.localIp.replace(/\.\d+$/, ".1")} dev eth0\n${p.localIp.replace(/\.\d+$/, ".0")}/24 dev eth0 proto kernel scope link src ${p.localIp}\n`
        return this.fail(`Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n`, 255)
      case "history":
        return this.history.map((h, i) => `${String(i + 1).padStart(5)}  ${h}\n`).join("")
      case "env":
      case "printenv":
        return [...this.env]
          .filter(([k]) => !k.startsWith("$") && k !== "?")
          .map(([k, v]) => `${k}=${v}\n`)
          .join("")
      case "export":
        for (const a of rest) {
          const eq = a.indexOf("=")
          if (eq > 0) this.env.set(a.slice(0, eq), a.slice(eq + 1))
        }
        return ""
      case "unset":
        for (const a of args) this.env.delete(a)
        return ""
      case "which":
        return args.map((a) => (KNOWN.includes(a) ? `/usr/bin/${a}\n` : "")).join("")
      case "type":
        return args
          .map((a) =>
            BUILTINS.has(a)
              ? `${a} is a shell builtin\n`
              : KNOWN.includes(a)
                ? `${a} is /usr/bin/${a}\n`
                : `bash: type: ${a}: not found\n`
          )
          .join("")
      case "alias":
        return "alias l='ls -CF'\nalias la='ls -A'\nalias ll='ls -alF'\nalias dc='docker compose'\nalias k='kubectl'\n"
      case "ls":
      case "ll":
      case "la":
        return this.ls(args, cmd === "ll" ? `${flags}l` : cmd === "la" ? `${flags}a` : flags)
      case "cat": {
        if (args.length === 0) return stdin
        return args
          .map((a) => {
            const node = this.fs.lookup(this.resolve(a))
            if (node === undefined) return this.fail(`cat: ${a}: No such file or directory\n`)
            if (node.kind === "dir") return this.fail(`cat: ${a}: Is a directory\n`)
            return node.content
          })
          .join("")
      }
      case "touch":
        for (const a of args) {
          const path = this.resolve(a)
          if (this.fs.lookup(path) === undefined && !this.fs.write(path, ""))
            return this.fail(`touch: cannot touch '${a}': No such file or directory\n`)
        }
        return ""
      case "mkdir":
        for (const a of args) {
          const r = this.fs.mkdir(this.resolve(a))
          if (r === "exists" && !flags.includes("p"))
            return this.fail(`mkdir: cannot create directory '${a}': File exists\n`)
          if (r === "missing")
            return this.fail(`mkdir: cannot create directory '${a}': No such file or directory\n`)
        }
        return ""
      case "rm":
        for (const a of args) {
          const r = this.fs.remove(this.resolve(a), /[rR]/.test(flags))
          if (r === "missing" && !flags.includes("f"))
            return this.fail(`rm: cannot remove '${a}': No such file or directory\n`)
          if (r === "isdir") return this.fail(`rm: cannot remove '${a}': Is a directory\n`)
        }
        return ""
      case "wget":
        return this.wget(args[0])
      case "curl":
        return this.curl(args[0])
      case "sudo":
        return rest.length === 0
          ? this.fail("usage: sudo -h | -K | -k | -V\n")
          : this.exec(
              rest.filter((a) => a !== "-s" && a !== "-i"),
              stdin
            )
      case "su":
        return ""
      case "clear":
        return "\x1b[H\x1b[2J\x1b[3J"
      case "date":
        return `${new Date().toUTCString().replace("GMT", "UTC")}\n`
      case "nproc":
        return "2\n"
      case "grep":
        return this.grep(rest, stdin, piped)
      case "head":
      case "tail": {
        const n = Number(/-n?\s*(\d+)/.exec(rest.join(" "))?.[1] ?? "10")
        const text =
          args.length > 0 && !/^\d+$/.test(args[0]!) ? this.readArg(args[args.length - 1]!, cmd) : stdin
        const lines = text.split("\n")
        if (lines[lines.length - 1] === "") lines.pop()
        const chosen = cmd === "head" ? lines.slice(0, n) : lines.slice(Math.max(0, lines.length - n))
        return chosen.length === 0 ? "" : `${chosen.join("\n")}\n`
      }
      case "wc": {
        const text = args.length > 0 ? this.readArg(args[0]!, "wc") : stdin
        const lines = (text.match(/\n/g) ?? []).length
        const words = text.split(/\s+/).filter((w) => w !== "").length
        if (flags.includes("l")) return `${lines}\n`
        if (flags.includes("w")) return `${words}\n`
        if (flags.includes("c")) return `${Buffer.byteLength(text)}\n`
        return `${String(lines).padStart(7)} ${String(words).padStart(7)} ${String(Buffer.byteLength(text)).padStart(7)}\n`
      }
      case "chmod":
      case "cp":
      case "mv":
      case "set":
      case "true":
      case ":":
        return ""
      case "false":
        return this.fail("")
      default:
        if (cmd.startsWith("./") || cmd.startsWith("/")) {
          const node = this.fs.lookup(this.resolve(cmd))
          if (node === undefined) return this.fail(`bash: ${cmd}: No such file or directory\n`, 127)
          return this.fail(`bash: ${cmd}: Permission denied\n`, 126)
        }
        return this.fail(`${cmd.slice(0, 256)}: command not found\n`.replace(/^/, "bash: "), 127)
    }
  }

  private readArg(a: string, cmd: string): string {
    const node = this.fs.lookup(this.resolve(a))
    if (node === undefined || node.kind !== "file")
      return this.fail(`${cmd}: ${a}: No such file or directory\n`)
    return node.content
  }

  private grep(rest: ReadonlyArray<string>, stdin: string, piped: boolean): string {
    const args = rest.filter((a) => !a.startsWith("-"))
    const ignoreCase = rest.some((a) => a.startsWith("-") && a.includes("i"))
    const invert = rest.some((a) => a.startsWith("-") && a.includes("v"))
    const [pattern, ...files] = args
    if (pattern === undefined) return this.fail("Usage: grep [OPTION]... PATTERNS [FILE]...\n", 2)
    const text = files.length > 0 ? files.map((f) => this.readArg(f, "grep")).join("") : piped ? stdin : ""
    const needle = ignoreCase ? pattern.toLowerCase() : pattern
    const hits = text
      .split("\n")
      .filter((l) => l !== "")
      .filter((l) => (ignoreCase ? l.toLowerCase() : l).includes(needle) !== invert)
    if (hits.length === 0) return this.fail("")
    return `${hits.join("\n")}\n`
  }

  private ls(args: ReadonlyArray<string>, flags: string): string {
    const targets = args.length === 0 ? ["."] : args
    const long = flags.includes("l")
    const all = flags.includes("a") || flags.includes("A")
    const out: Array<string> = []
    for (const t of targets) {
      const node = this.fs.lookup(this.resolve(t))
      if (node === undefined) {
        out.push(this.fail(`ls: cannot access '${t}': No such file or directory\n`, 2))
        continue
      }
      if (node.kind === "file") {
        out.push(long ? `${this.longEntry(t, node)}\n` : `${t}\n`)
        continue
      }
      const names = [...node.children.keys()].filter((n) => all || !n.startsWith(".")).sort()
      if (targets.length > 1) out.push(`${t}:\n`)
      if (long) {
        out.push(`total ${names.length * 4}\n`)
        if (all) out.push(`${this.longEntry(".", node)}\n${this.longEntry("..", node)}\n`)
        for (const n of names) out.push(`${this.longEntry(n, node.children.get(n)!)}\n`)
      } else if (names.length > 0) out.push(`${(all ? [".", "..", ...names] : names).join("  ")}\n`)
    }
    return out.join("")
  }

  private longEntry(
    name: string,
    node: { kind: "file" | "dir"; mode: string; mtime: string; content?: string }
  ): string {
    const size = node.kind === "file" ? Buffer.byteLength(node.content ?? "") : 4096
    const owner = this.user === "root" || this.cwd.startsWith("/root") ? "root" : this.user
    return `${node.mode} ${node.kind === "dir" ? 2 : 1} ${owner.padEnd(4)} ${owner.padEnd(4)} ${String(size).padStart(5)} ${node.mtime} ${name}`
  }

  private wget(url: string | undefined): string {
    if (url === undefined)
      return this.fail(
        "wget: missing URL\nUsage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n"
      )
    const host = hostOf(url)
    return this.fail(
      `--${new Date().toISOString().slice(0, 19).replace("T", " ")}--  ${url}\nResolving ${host} (${host})... failed: Temporary failure in name resolution.\nwget: unable to resolve host address '${host}'\n`,
      4
    )
  }

  private curl(url: string | undefined): string {
    if (url === undefined)
      return this.fail("curl: try 'curl --help' or 'curl --manual' for more information\n", 2)
    return this.fail(`curl: (6) Could not resolve host: ${hostOf(url)}\n`, 6)
  }
}

const hostOf = (url: string): string => {
  const stripped = url.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, "")
  const host = stripped.split(/[/:?#]/)[0] ?? stripped
  return host.replace(/^.*@/, "").slice(0, 253)
}
