/**
 * The fake shell's filesystem: a lived-in Ubuntu tree built once per session from the persona,
 * plus a session-local overlay (touch/mkdir/rm never leave the session). Paths are POSIX-normalised.
 */

export type Node =
  | { readonly kind: "file"; content: string; mode: string; mtime: string }
  | { readonly kind: "dir"; readonly children: Map<string, Node>; mode: string; mtime: string }

export interface FsPersona {
  /** Files an operator planted on the decky, laid over the persona's tree. */
  readonly planted?: ReadonlyArray<{
    readonly path: string
    readonly content: string
    readonly mode: number
    readonly mtime: number | null
  }>
  readonly hostname: string
  readonly user: string
  readonly issue: string
  readonly kernel: string
  readonly kernelBuild: string
  readonly cpuModel: string
}

const MTIME = "Oct 12 09:41"

const file = (content: string, mode = "-rw-r--r--"): Node => ({ kind: "file", content, mode, mtime: MTIME })
const dir = (entries: Record<string, Node> = {}, mode = "drwxr-xr-x"): Node => ({
  kind: "dir",
  children: new Map(Object.entries(entries)),
  mode,
  mtime: MTIME
})

export const normalizePath = (cwd: string, path: string, home: string): string => {
  const expanded = path === "~" ? home : path.startsWith("~/") ? `${home}${path.slice(1)}` : path
  const raw = expanded.startsWith("/") ? expanded : `${cwd}/${expanded}`
  const out: Array<string> = []
  for (const part of raw.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return `/${out.join("/")}`
}

const BASHRC = `# ~/.bashrc: executed by bash(1) for non-login shells.
[ -z "$PS1" ] && return
HISTCONTROL=ignoredups:ignorespace
shopt -s histappend
HISTSIZE=1000
HISTFILESIZE=2000
alias ll='ls -alF'
alias la='ls -A'
alias l='ls -CF'
alias dc='docker compose'
alias k='kubectl'
alias deploy='cd /root/projects && ./deploy.sh'
`

const HISTORY = [
  "apt update && apt upgrade -y",
  "cd /root/projects",
  "vim .env",
  "systemctl restart app",
  "journalctl -u app -n 50",
  "mysql -h 10.0.0.5 -u admin -p prod_db",
  "cat /var/log/auth.log | tail",
  "docker ps",
  "ssh deploy@10.0.0.12",
  "df -h",
  "free -m",
  "exit"
]

export const buildFilesystem = (p: FsPersona): Node => {
  const home = p.user === "root" ? undefined : p.user
  const passwd = [
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
    "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
    "sync:x:4:65534:sync:/bin:/bin/sync",
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "systemd-network:x:100:102:systemd Network Management,,,:/run/systemd:/usr/sbin/nologin",
    "messagebus:x:103:104::/nonexistent:/usr/sbin/nologin",
    "sshd:x:105:65534::/run/sshd:/usr/sbin/nologin",
    "mysql:x:112:118:MySQL Server,,,:/nonexistent:/bin/false",
    ...(home === undefined ? [] : [`${home}:x:1000:1000:${home},,,:/home/${home}:/bin/bash`])
  ].join("\n")
  const [name, version] =
    p.issue.split(" ").length >= 2
      ? [p.issue.split(" ")[0]!, p.issue.split(" ").slice(1).join(" ")]
      : [p.issue, ""]
  const versionId = /(\d+\.\d+)/.exec(version)?.[1] ?? "22.04"
  const codename = versionId === "20.04" ? "focal" : "jammy"
  const osRelease = `PRETTY_NAME="${p.issue}"
NAME="${name}"
VERSION_ID="${versionId}"
VERSION="${version.replace(/ LTS$/, "")} LTS (${codename === "jammy" ? "Jammy Jellyfish" : "Focal Fossa"})"
VERSION_CODENAME=${codename}
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
UBUNTU_CODENAME=${codename}
`
  const cpu = (n: number) => `processor\t: ${n}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: ${p.cpuModel}
stepping\t: 7
cpu MHz\t\t: 2499.998
cache size\t: 36608 KB
physical id\t: 0
siblings\t: 2
core id\t\t: ${n}
cpu cores\t: 2
fpu\t\t: yes
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch avx2 smep bmi2 erms avx512f
bogomips\t: 4999.99
address sizes\t: 46 bits physical, 48 bits virtual
`
  const root = dir({
    bin: dir(),
    boot: dir(),
    dev: dir({ null: file("", "crw-rw-rw-"), shm: dir({}, "drwxrwxrwt") }),
    etc: dir({
      passwd: file(`${passwd}\n`),
      shadow: file("", "-rw-r-----"),
      group: file(
        `root:x:0:\nsudo:x:27:${home ?? ""}\nwww-data:x:33:\n${home === undefined ? "" : `${home}:x:1000:\n`}`
      ),
      hostname: file(`${p.hostname}\n`),
      hosts: file(`127.0.0.1 localhost\n127.0.1.1 ${p.hostname}\n10.0.0.5 db01\n10.0.0.12 build01\n`),
      "os-release": file(osRelease),
      issue: file(`${p.issue} \\n \\l\n\n`),
      "issue.net": file(`${p.issue}\n`),
      "resolv.conf": file("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"),
      crontab: file(
        "SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
      ),
      ssh: dir({
        sshd_config: file(
          "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\n"
        )
      })
    }),
    home: dir(
      home === undefined
        ? {}
        : {
            [home]: dir({
              ".bashrc": file(BASHRC),
              ".profile": file("# ~/.profile\n"),
              ".bash_history": file("ls\nsudo su\n", "-rw-------")
            })
          }
    ),
    lib: dir(),
    opt: dir(),
    proc: dir({
      cpuinfo: file(`${cpu(0)}\n${cpu(1)}`),
      version: file(
        `Linux version ${p.kernel} (buildd@lcy02-amd64-059) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) ${p.kernelBuild}\n`
      ),
      meminfo: file(
        "MemTotal:        4013888 kB\nMemFree:          312044 kB\nMemAvailable:    2689320 kB\nBuffers:          128412 kB\nCached:          2101336 kB\nSwapTotal:       2097148 kB\nSwapFree:        2064636 kB\n"
      )
    }),
    root: dir(
      {
        "notes.txt": file(
          "TODO:\n- rotate db creds (still the default from setup!)\n- move backups off this box -> 10.0.0.12:/srv/backup\n- ask ops about the VPN cert renewal\n"
        ),
        ".bashrc": file(BASHRC),
        ".profile": file(
          '# ~/.profile: executed by Bourne-compatible login shells.\nif [ "$BASH" ]; then\n  if [ -f ~/.bashrc ]; then\n    . ~/.bashrc\n  fi\nfi\nmesg n 2> /dev/null || true\n'
        ),
        ".bash_history": file(`${HISTORY.join("\n")}\n`, "-rw-------"),
        ".ssh": dir({ authorized_keys: file("", "-rw-------") }, "drwx------"),
        projects: dir({
          ".env": file(
            "DB_HOST=10.0.0.5\nDB_USER=admin\nDB_PASS=changeme123\nDB_NAME=prod_db\n",
            "-rw-------"
          ),
          "app.service": file(
            "[Unit]\nDescription=Production app\nAfter=network.target\n\n[Service]\nUser=root\nWorkingDirectory=/root/projects\nEnvironmentFile=/root/projects/.env\nExecStart=/usr/bin/python3 /root/projects/app.py\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n"
          ),
          "deploy.sh": file("#!/bin/bash\nset -e\ngit pull\nsystemctl restart app\n", "-rwxr-xr-x")
        })
      },
      "drwx------"
    ),
    run: dir(),
    sbin: dir(),
    srv: dir(),
    tmp: dir({}, "drwxrwxrwt"),
    usr: dir({ bin: dir(), lib: dir(), local: dir({ bin: dir() }), sbin: dir(), share: dir() }),
    var: dir({
      backups: dir(),
      lib: dir(),
      log: dir({
        "auth.log": file("", "-rw-r-----"),
        syslog: file("", "-rw-r-----"),
        "dpkg.log": file(""),
        "kern.log": file("", "-rw-r-----"),
        apt: dir({ "history.log": file("") })
      }),
      tmp: dir({}, "drwxrwxrwt"),
      www: dir({ html: dir({ "index.html": file("<html><body><h1>It works!</h1></body></html>\n") }) })
    })
  })
  for (const f of p.planted ?? []) plant(root, f)
  return root
}

/** `ls -l` permission text of a regular file with these mode bits. */
const modeText = (mode: number): string => {
  const bits = "rwxrwxrwx"
  return `-${Array.from(bits, (c, i) => ((mode >> (8 - i)) & 1 ? c : "-")).join("")}`
}

/** Lay a planted file over the tree: missing parent directories are created. */
const plant = (root: Node, f: NonNullable<FsPersona["planted"]>[number]) => {
  const parts = f.path.split("/").filter((x) => x !== "")
  const name = parts.pop()
  if (name === undefined) return
  let node = root
  for (const part of parts) {
    if (node.kind !== "dir") return
    let next = node.children.get(part)
    if (next === undefined) {
      next = dir()
      node.children.set(part, next)
    }
    node = next
  }
  if (node.kind !== "dir") return
  node.children.set(name, {
    kind: "file",
    content: f.content,
    mode: modeText(f.mode),
    mtime: f.mtime === null ? MTIME : stampOf(new Date(f.mtime * 1000))
  })
}

export class Filesystem {
  private readonly root: Node
  constructor(root: Node) {
    this.root = root
  }

  lookup(path: string): Node | undefined {
    let node: Node = this.root
    for (const part of path.split("/")) {
      if (part === "") continue
      if (node.kind !== "dir") return undefined
      const next = node.children.get(part)
      if (next === undefined) return undefined
      node = next
    }
    return node
  }

  private parentOf(path: string): { parent: Node | undefined; name: string } {
    const i = path.lastIndexOf("/")
    return { parent: this.lookup(path.slice(0, i) || "/"), name: path.slice(i + 1) }
  }

  /** Create or replace a file; false when the parent is missing or not a directory. */
  write(path: string, content: string, append = false): boolean {
    const { parent, name } = this.parentOf(path)
    if (parent === undefined || parent.kind !== "dir" || name === "") return false
    const existing = parent.children.get(name)
    if (existing?.kind === "dir") return false
    const body = append && existing?.kind === "file" ? existing.content + content : content
    parent.children.set(name, {
      kind: "file",
      content: body.slice(0, 1024 * 1024),
      mode: "-rw-r--r--",
      mtime: nowStamp()
    })
    return true
  }

  mkdir(path: string): "ok" | "exists" | "missing" {
    const { parent, name } = this.parentOf(path)
    if (parent === undefined || parent.kind !== "dir" || name === "") return "missing"
    if (parent.children.has(name)) return "exists"
    parent.children.set(name, { kind: "dir", children: new Map(), mode: "drwxr-xr-x", mtime: nowStamp() })
    return "ok"
  }

  remove(path: string, recursive: boolean): "ok" | "missing" | "isdir" {
    const { parent, name } = this.parentOf(path)
    if (parent === undefined || parent.kind !== "dir") return "missing"
    const node = parent.children.get(name)
    if (node === undefined) return "missing"
    if (node.kind === "dir" && !recursive) return "isdir"
    parent.children.delete(name)
    return "ok"
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const
const nowStamp = (): string => stampOf(new Date())
const stampOf = (d: Date): string => {
  const hh = String(d.getUTCHours()).padStart(2, "0")
  const mm = String(d.getUTCMinutes()).padStart(2, "0")
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${hh}:${mm}`
}
