/**
 * Generate a topology (`POST /topologies`, stored pending): the generator's knobs (topology.md §2). Each
 * field is checked as the server checks it before the request; a refusal from the server shows under the
 * field it names (a duplicate name under the name), else under the form.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, useState } from "react"
import { ApiError, api, call } from "../../api/client"
import { ErrorText } from "../../components/ui"
import { Modal } from "../fleet/Modal"
import { Field } from "./Field"
import { type GenerateRequest, parseServices, type TopologySummary } from "./model"

interface Form {
  name: string
  depth: string
  branching: string
  min: string
  max: string
  bridgeP: string
  crossP: string
  randomize: boolean
  services: string
  seed: string
}
type Key = keyof Form
type Errors = Partial<Record<Key, string>>

const INITIAL: Form = {
  name: "",
  depth: "1",
  branching: "2",
  min: "1",
  max: "2",
  bridgeP: "1",
  crossP: "0",
  randomize: true,
  services: "",
  seed: ""
}

const int = (s: string) => (/^\s*-?\d+\s*$/.test(s) ? Number(s) : Number.NaN)
const num = (s: string) => (s.trim() === "" ? Number.NaN : Number(s))

const between = (v: number, lo: number, hi: number, what: string, isInt: boolean): string | undefined =>
  !Number.isFinite(v) || (isInt && !Number.isInteger(v)) || v < lo || v > hi
    ? `${what} between ${lo} and ${hi}`
    : undefined

const check = (f: Form): Errors => {
  const e: Errors = {}
  const name = f.name.trim()
  if (name === "") e.name = "A name is required"
  else if (name.length > 64) e.name = "At most 64 characters"
  const depth = between(int(f.depth), 1, 16, "A whole number", true)
  if (depth !== undefined) e.depth = depth
  const branching = between(int(f.branching), 1, 8, "A whole number", true)
  if (branching !== undefined) e.branching = branching
  const min = between(int(f.min), 0, 32, "A whole number", true)
  if (min !== undefined) e.min = min
  const max = between(int(f.max), 1, 32, "A whole number", true)
  if (max !== undefined) e.max = max
  if (e.min === undefined && e.max === undefined && int(f.min) > int(f.max))
    e.max = "At least the minimum deckies per LAN"
  const bridge = between(num(f.bridgeP), 0, 1, "A probability", false)
  if (bridge !== undefined) e.bridgeP = bridge
  const cross = between(num(f.crossP), 0, 1, "A probability", false)
  if (cross !== undefined) e.crossP = cross
  if (!f.randomize && parseServices(f.services).length === 0)
    e.services = "Name some services, or let the generator pick them at random"
  if (f.seed.trim() !== "" && !(Number.isInteger(int(f.seed)) && int(f.seed) >= 0))
    e.seed = "A whole number ≥ 0, or empty for a random seed"
  return e
}

const toRequest = (f: Form): GenerateRequest => {
  const services = parseServices(f.services)
  return {
    name: f.name.trim(),
    depth: int(f.depth),
    branching_factor: int(f.branching),
    deckies_per_lan_min: int(f.min),
    deckies_per_lan_max: int(f.max),
    bridge_forward_probability: num(f.bridgeP),
    cross_edge_probability: num(f.crossP),
    // Named services are what every decky runs (the generator draws none then), as the CLI does.
    randomize_services: services.length > 0 ? false : f.randomize,
    services_explicit: services.length === 0 ? null : services,
    seed: f.seed.trim() === "" ? null : int(f.seed)
  }
}

/** The field a server refusal is about, from the words of its detail. */
const FIELD_WORDS: ReadonlyArray<readonly [Key, RegExp]> = [
  ["name", /\bname\b|already exists/i],
  ["max", /deckies_per_lan_max|deckies_per_lan_min must be/i],
  ["min", /deckies_per_lan_min/i],
  ["depth", /\bdepth\b/i],
  ["branching", /branching/i],
  ["bridgeP", /bridge_forward/i],
  ["crossP", /cross_edge/i],
  ["services", /services/i],
  ["seed", /\bseed\b/i]
]
const fieldOf = (detail: string): Key | undefined => FIELD_WORDS.find(([, re]) => re.test(detail))?.[0]

export const GenerateDialog = ({
  onClose,
  onCreated
}: {
  onClose: () => void
  onCreated: (t: TopologySummary) => void
}) => {
  const queryClient = useQueryClient()
  const [form, setForm] = useState<Form>(INITIAL)
  const [errors, setErrors] = useState<Errors>({})
  const catalog = useQuery({
    queryKey: ["topologies", "services"],
    queryFn: () => call(api.GET("/api/v1/topologies/services")),
    staleTime: 60_000
  })
  const generate = useMutation({
    mutationFn: (body: GenerateRequest) => call(api.POST("/api/v1/topologies", { body })),
    onSuccess: (t) => {
      void queryClient.invalidateQueries({ queryKey: ["topologies"] })
      onCreated(t)
    },
    onError: (e) => {
      if (e instanceof ApiError) {
        const field = fieldOf(e.detail)
        if (field !== undefined) setErrors({ [field]: e.detail })
      }
    }
  })
  const set = <K extends Key>(key: K, value: Form[K]) => {
    setForm((f) => ({ ...f, [key]: value }))
    setErrors((e) => ({ ...e, [key]: undefined }))
  }
  const submit = (ev: FormEvent) => {
    ev.preventDefault()
    const found = check(form)
    setErrors(found)
    if (Object.values(found).some((v) => v !== undefined)) return
    generate.mutate(toRequest(form))
  }
  const serverOnForm =
    generate.error !== null &&
    !(generate.error instanceof ApiError && fieldOf(generate.error.detail) !== undefined)
  const text = (
    key: Exclude<Key, "randomize">,
    label: string,
    hint?: string,
    inputMode?: "numeric" | "decimal"
  ) => (
    <Field label={label} error={errors[key]} hint={hint}>
      {(p) => (
        <input
          {...p}
          type="text"
          inputMode={inputMode}
          value={form[key]}
          onChange={(e) => set(key, e.target.value)}
        />
      )}
    </Field>
  )
  return (
    <Modal title="Generate a topology" onClose={onClose} wide>
      <form className="gen-form" onSubmit={submit} noValidate>
        <p className="muted small">
          A DMZ and a tree of LANs below it, <em>depth</em> levels deep with <em>branching</em> child LANs
          each; bridge deckies join a LAN to its children. It is stored <strong>pending</strong>: deploy it
          from its page.
        </p>
        <div className="gen-grid">
          {text("name", "Name", "1–64 characters, unique")}
          {text("seed", "Seed", "empty: a random one (recorded)", "numeric")}
          {text("depth", "Depth", "LAN levels below the DMZ, 1–16", "numeric")}
          {text("branching", "Branching", "child LANs per LAN, 1–8", "numeric")}
          {text("min", "Deckies per LAN, min", "0–32", "numeric")}
          {text("max", "Deckies per LAN, max", "1–32", "numeric")}
          {text(
            "bridgeP",
            "Bridge forward probability",
            "0–1: a bridge routes (L3) between its LANs",
            "decimal"
          )}
          {text("crossP", "Cross-edge probability", "0–1: extra links between sibling LANs", "decimal")}
        </div>
        <label className="inline">
          <input
            type="checkbox"
            checked={form.randomize}
            onChange={(e) => set("randomize", e.target.checked)}
          />
          Randomize services per decky
        </label>
        {text(
          "services",
          "Services",
          `comma-separated: every decky runs exactly these (empty: drawn at random per decky)${
            catalog.data === undefined ? "" : ` — e.g. ${catalog.data.services.slice(0, 8).join(", ")}`
          }`
        )}
        {serverOnForm && <ErrorText error={generate.error} />}
        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={generate.isPending}
            aria-busy={generate.isPending}
          >
            Generate
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  )
}
