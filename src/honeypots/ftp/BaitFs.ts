/**
 * The read-only bait tree an FTP login lands in (spec/honeypots.md §5): seeded backup archives,
 * a README and an .htaccess, all in memory. The same decky always shows the same files.
 */
import type { InstanceSeed } from "../runtime/index.js"

export interface BaitFile {
  readonly name: string
  readonly content: Buffer
  readonly mtime: Date
}

const COMPANIES = ["acme", "contoso", "northwind", "initech", "globex", "hooli"] as const
const ENVS = ["prod", "stage", "backup", "archive"] as const

/** RFC 1952 §2.3: member header ID1 ID2 CM(8=deflate) FLG, so `file(1)` calls it gzip data. */
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08, 0x00])

const pad = (n: number): string => String(n).padStart(2, "0")

export const makeBaitFs = (seed: InstanceSeed): ReadonlyArray<BaitFile> => {
  const company = seed.pick(COMPANIES)
  const env = seed.pick(ENVS)
  const count = seed.int(2, 5)
  const files: Array<BaitFile> = []
  const names = new Set<string>()
  for (let i = 0; i < count; i++) {
    const date = new Date(
      Date.UTC(seed.int(2022, 2024), seed.int(0, 11), seed.int(1, 28), seed.int(0, 23), seed.int(0, 59))
    )
    const name = `${company}-${env}-${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}.tar.gz`
    if (names.has(name)) continue
    names.add(name)
    const size = seed.int(2 * 1024, 32 * 1024)
    files.push({
      name,
      content: Buffer.concat([GZIP_MAGIC, seed.bytes(size - 4, `ftp-bait:${name}`)]),
      mtime: date
    })
  }
  files.sort((a, b) => a.name.localeCompare(b.name))
  const newest = new Date(Math.max(Date.UTC(2022, 0, 1), ...files.map((f) => f.mtime.getTime())))
  files.push({
    name: "README.txt",
    content: Buffer.from(
      `${company} ${env} drop area\n\nNightly archives land here and are rotated after 30 days.\n` +
        `Do not store credentials in this directory.\nQuestions: ops-${env}@${company}.internal\n`
    ),
    mtime: newest
  })
  files.push({ name: ".htaccess", content: Buffer.from("Options -Indexes\n"), mtime: newest })
  return files
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const

/** What a directory listing shows of a file. */
export interface ListEntry {
  readonly name: string
  readonly size: number
  readonly mtime: Date
  /** `ls -l` permission string. */
  readonly mode: string
}

export const baitEntry = (f: BaitFile): ListEntry => ({
  name: f.name,
  size: f.content.length,
  mtime: f.mtime,
  mode: "-rw-r--r--"
})

/** One `ls -l` line as vsftpd prints it (`%s %4d %-8s %-8s %8llu %s %s`). */
export const listLine = (f: ListEntry, now: Date): string => {
  const recent = now.getTime() - f.mtime.getTime() < 182 * 86_400_000
  const when = recent
    ? `${pad(f.mtime.getUTCHours())}:${pad(f.mtime.getUTCMinutes())}`
    : ` ${f.mtime.getUTCFullYear()}`
  const date = `${MONTHS[f.mtime.getUTCMonth()]} ${pad(f.mtime.getUTCDate())} ${when}`
  return `${f.mode}    1 ftp      ftp      ${String(f.size).padStart(8)} ${date} ${f.name}`
}

/** `MDTM` timestamp (RFC 3659 §2.3): YYYYMMDDHHMMSS. */
export const mdtm = (d: Date): string =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`
