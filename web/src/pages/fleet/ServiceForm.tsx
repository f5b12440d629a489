/**
 * A service's config form, generated from `GET /topologies/services/{slug}/schema` (`fields`, the catalog's
 * ServiceConfigField: string, password, int, bool, textarea, enum, multi_enum; default, secret, help,
 * placeholder). Values start from the decky's current config, else the field's default.
 */
import { useQuery } from "@tanstack/react-query"
import { type FormEvent, useId, useState } from "react"
import { api, call } from "../../api/client"
import { ErrorText, Loading } from "../../components/ui"
import type { ConfigField } from "./model"

export type ServiceConfig = Record<string, unknown>
type Value = string | boolean | ReadonlyArray<string>

export interface FormAction {
  readonly label: string
  readonly primary?: boolean
  readonly run: (config: ServiceConfig) => void
}

const initial = (f: ConfigField, current: unknown): Value => {
  const v = current === undefined ? f.default : current
  switch (f.type) {
    case "bool":
      return typeof v === "boolean" ? v : typeof v === "string" && /^(true|1|yes|on)$/i.test(v)
    case "multi_enum":
      return Array.isArray(v)
        ? v.map(String)
        : typeof v === "string" && v !== ""
          ? v.split(",").map((s) => s.trim())
          : []
    default:
      return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)
  }
}

/** The config to send: typed values, empty text left out (the service's default applies). */
const toConfig = (
  fields: ReadonlyArray<ConfigField>,
  values: Record<string, Value>
): ServiceConfig | string => {
  const out: ServiceConfig = {}
  for (const f of fields) {
    const v = values[f.key]
    if (typeof v === "boolean" || Array.isArray(v)) out[f.key] = v
    else if (typeof v === "string" && v.trim() !== "") {
      if (f.type !== "int") out[f.key] = v
      else if (/^-?\d+$/.test(v.trim())) out[f.key] = Number(v.trim())
      else return `${f.label}: enter a whole number`
    }
  }
  return out
}

const Field = ({
  field: f,
  value,
  onChange,
  idPrefix
}: {
  field: ConfigField
  value: Value
  onChange: (v: Value) => void
  idPrefix: string
}) => {
  const helpId = `${idPrefix}-${f.key}-help`
  const help =
    f.help === null || f.help === undefined ? null : (
      <span id={helpId} className="muted small">
        {f.help}
      </span>
    )
  const described = help === null ? undefined : helpId
  const placeholder = f.placeholder ?? undefined
  if (f.type === "bool")
    return (
      <div>
        <label className="inline">
          <input
            type="checkbox"
            checked={value === true}
            aria-describedby={described}
            onChange={(e) => onChange(e.target.checked)}
          />
          {f.label}
        </label>
        {help}
      </div>
    )
  if (f.type === "multi_enum") {
    const chosen = Array.isArray(value) ? value : []
    return (
      <fieldset aria-describedby={described}>
        <legend>{f.label}</legend>
        {(f.enum ?? []).map((option) => (
          <label key={option} className="inline">
            <input
              type="checkbox"
              checked={chosen.includes(option)}
              onChange={(e) =>
                onChange(e.target.checked ? [...chosen, option] : chosen.filter((c) => c !== option))
              }
            />
            {option}
          </label>
        ))}
        {help}
      </fieldset>
    )
  }
  const text = typeof value === "string" ? value : ""
  const id = `${idPrefix}-${f.key}`
  return (
    <div className="service-field">
      <label htmlFor={id}>{f.label}</label>
      {f.type === "enum" ? (
        <select id={id} value={text} aria-describedby={described} onChange={(e) => onChange(e.target.value)}>
          {!(f.enum ?? []).includes(text) && <option value={text}>{text === "" ? "(default)" : text}</option>}
          {(f.enum ?? []).map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : f.type === "textarea" ? (
        <textarea
          id={id}
          rows={3}
          value={text}
          placeholder={placeholder}
          aria-describedby={described}
          spellCheck={false}
          onChange={(e) => onChange(e.target.value)}
        />
      ) : (
        <input
          id={id}
          type={
            f.type === "int" ? "number" : f.secret === true || f.type === "password" ? "password" : "text"
          }
          step={f.type === "int" ? 1 : undefined}
          value={text}
          placeholder={placeholder}
          aria-describedby={described}
          autoComplete="off"
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      {help}
    </div>
  )
}

const Fields = ({
  fields,
  current,
  actions,
  pending
}: {
  fields: ReadonlyArray<ConfigField>
  current: ServiceConfig | undefined
  actions: ReadonlyArray<FormAction>
  pending: boolean
}) => {
  const idPrefix = useId()
  const [values, setValues] = useState<Record<string, Value>>(() =>
    Object.fromEntries(fields.map((f) => [f.key, initial(f, current?.[f.key])]))
  )
  const [invalid, setInvalid] = useState<string | null>(null)
  const run = (action: FormAction | undefined) => {
    const config = toConfig(fields, values)
    if (typeof config === "string") return setInvalid(config)
    setInvalid(null)
    action?.run(config)
  }
  const submit = (e: FormEvent) => {
    e.preventDefault()
    run(actions[0])
  }
  return (
    <form className="service-form" onSubmit={submit}>
      {fields.length === 0 ? (
        <p className="muted small">This service has no settings.</p>
      ) : (
        <div className="service-fields">
          {fields.map((f) => (
            <Field
              key={f.key}
              field={f}
              idPrefix={idPrefix}
              value={values[f.key] ?? ""}
              onChange={(v) => setValues((old) => ({ ...old, [f.key]: v }))}
            />
          ))}
        </div>
      )}
      {invalid !== null && (
        <p className="error" role="alert">
          {invalid}
        </p>
      )}
      <div className="actions">
        {actions.map((a, i) => (
          <button
            key={a.label}
            type={i === 0 ? "submit" : "button"}
            className={a.primary === true ? "primary" : undefined}
            disabled={pending}
            onClick={i === 0 ? undefined : () => run(a)}
          >
            {a.label}
          </button>
        ))}
      </div>
    </form>
  )
}

/** The generated form of `service`; `actions[0]` is also what Enter does. */
export const ServiceForm = ({
  service,
  current,
  actions,
  pending,
  error
}: {
  service: string
  current: ServiceConfig | undefined
  actions: ReadonlyArray<FormAction>
  pending: boolean
  error: unknown
}) => {
  const schema = useQuery({
    queryKey: ["catalog", "schema", service],
    queryFn: () =>
      call(
        api.GET("/api/v1/topologies/services/{service_name}/schema", {
          params: { path: { service_name: service } }
        })
      ),
    staleTime: Number.POSITIVE_INFINITY
  })
  if (schema.isLoading) return <Loading what={`the ${service} settings`} />
  if (schema.data === undefined) return <ErrorText error={schema.error} />
  return (
    <>
      <Fields
        key={service}
        fields={schema.data.fields}
        current={current}
        actions={actions}
        pending={pending}
      />
      <ErrorText error={error} />
    </>
  )
}
