/**
 * Config (`GET /config`, spec api §7.14, §4.9): the deployment limit and the global mutation interval for
 * everyone; for admins, forms to change them and the user table (create, change role, reset password,
 * delete). The admin's own row can be neither deleted nor re-roled (the server answers 403 too).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, type ReactNode, useEffect, useId, useRef, useState } from "react"
import { api, type Config, call } from "../api/client"
import { useAuth } from "../auth"
import { ErrorText, Loading, PageHeader } from "../components/ui"
import "./tables/tables.css"

type User = NonNullable<Config["users"]>[number]
type Role = User["role"]
const ROLES: ReadonlyArray<Role> = ["viewer", "admin"]
const PASSWORD_MIN = 12
const PASSWORD_MAX = 72
const INTERVAL_PATTERN = "[1-9][0-9]*[mdMyY]"

/** A write that answers `{message}` and then refreshes `["config"]`. */
const useWrite = () => {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (f: () => Promise<{ message: string }>) => f(),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["config"] })
  })
}
type Write = ReturnType<typeof useWrite>

const Outcome = ({ write }: { write: Write }) => (
  <>
    {write.data !== undefined && <output className="muted">{write.data.message}</output>}
    <ErrorText error={write.error} />
  </>
)

const text = (e: FormEvent<HTMLFormElement>, name: string): string => {
  const v = new FormData(e.currentTarget).get(name)
  return typeof v === "string" ? v : ""
}

/** A modal `<dialog>` shown while `open`; Escape or Cancel calls `onClose`. */
const Modal = ({
  open,
  title,
  onClose,
  onSubmit,
  children
}: {
  open: boolean
  title: string
  onClose: () => void
  onSubmit: (e: FormEvent<HTMLFormElement>) => void
  children: ReactNode
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current
    if (d === null) return
    if (open && !d.open) d.showModal()
    if (!open && d.open) d.close()
  }, [open])
  return (
    <dialog ref={ref} aria-label={title} onClose={onClose}>
      {open && (
        <form
          onSubmit={(e) => {
            e.preventDefault()
            onSubmit(e)
          }}
        >
          <h2>{title}</h2>
          {children}
        </form>
      )}
    </dialog>
  )
}

const Limits = ({ config, isAdmin }: { config: Config; isAdmin: boolean }) => {
  const limit = useWrite()
  const interval = useWrite()
  if (!isAdmin)
    return (
      <section className="card" aria-label="Limits">
        <h2>Limits</h2>
        <dl>
          <dt>Deployment limit</dt>
          <dd>{config.deployment_limit} deckies</dd>
          <dt>Global mutation interval</dt>
          <dd>
            <code>{config.global_mutation_interval}</code>
          </dd>
        </dl>
        <p className="notice">Only admins can manage users and limits.</p>
      </section>
    )
  return (
    <section className="card stack" aria-label="Limits">
      <h2>Limits</h2>
      <form
        className="form-row"
        key={`limit-${config.deployment_limit}`}
        onSubmit={(e) => {
          e.preventDefault()
          const n = Number(text(e, "deployment_limit"))
          limit.mutate(() =>
            call(api.PUT("/api/v1/config/deployment-limit", { body: { deployment_limit: n } }))
          )
        }}
      >
        <label>
          Deployment limit
          <input
            name="deployment_limit"
            type="number"
            min={1}
            max={500}
            step={1}
            required
            defaultValue={config.deployment_limit}
          />
        </label>
        <button type="submit" disabled={limit.isPending}>
          Save limit
        </button>
        <span className="muted small">The most deckies a deployment may hold (1–500).</span>
        <Outcome write={limit} />
      </form>
      <form
        className="form-row"
        key={`interval-${config.global_mutation_interval}`}
        onSubmit={(e) => {
          e.preventDefault()
          const v = text(e, "global_mutation_interval").trim()
          interval.mutate(() =>
            call(
              api.PUT("/api/v1/config/global-mutation-interval", { body: { global_mutation_interval: v } })
            )
          )
        }}
      >
        <label>
          Global mutation interval
          <input
            name="global_mutation_interval"
            pattern={INTERVAL_PATTERN}
            title="A positive number and a unit: m (minutes), d (days), M (months), y or Y (years), e.g. 30m"
            required
            defaultValue={config.global_mutation_interval}
          />
        </label>
        <button type="submit" disabled={interval.isPending}>
          Save interval
        </button>
        <span className="muted small">
          e.g. <code>30m</code>, <code>2d</code>, <code>1M</code>, <code>1y</code>
        </span>
        <Outcome write={interval} />
      </form>
    </section>
  )
}

const PasswordInput = ({ label }: { label: string }) => (
  <label>
    {label}
    <input
      name="password"
      type="password"
      autoComplete="new-password"
      minLength={PASSWORD_MIN}
      maxLength={PASSWORD_MAX}
      required
      title={`${PASSWORD_MIN}–${PASSWORD_MAX} characters`}
    />
  </label>
)

const CreateUser = () => {
  const qc = useQueryClient()
  const create = useMutation({
    mutationFn: (body: { username: string; password: string; role: Role }) =>
      call(api.POST("/api/v1/config/users", { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["config"] })
  })
  const id = useId()
  return (
    <form
      className="form-row"
      aria-label="Create user"
      onSubmit={(e) => {
        e.preventDefault()
        const form = e.currentTarget
        const role = text(e, "role") === "admin" ? "admin" : "viewer"
        create.mutate(
          { username: text(e, "username").trim(), password: text(e, "password"), role },
          { onSuccess: () => form.reset() }
        )
      }}
    >
      <label>
        Username
        <input name="username" autoComplete="off" minLength={1} maxLength={64} required />
      </label>
      <PasswordInput label="Password" />
      <div className="field">
        <label htmlFor={`${id}-role`}>Role</label>
        <select id={`${id}-role`} name="role" defaultValue="viewer">
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </div>
      <button type="submit" className="primary" disabled={create.isPending}>
        Create user
      </button>
      {create.data !== undefined && (
        <output className="muted">
          Created {create.data.username} ({create.data.role}); they must change the password at first login.
        </output>
      )}
      <ErrorText error={create.error} />
    </form>
  )
}

const Users = ({ users }: { users: ReadonlyArray<User> }) => {
  const { username: me } = useAuth()
  const write = useWrite()
  const dialogWrite = useWrite()
  const [resetting, setResetting] = useState<User | undefined>(undefined)
  const [deleting, setDeleting] = useState<User | undefined>(undefined)
  const [notice, setNotice] = useState<string | undefined>(undefined)
  const close = () => {
    setResetting(undefined)
    setDeleting(undefined)
    dialogWrite.reset()
  }
  const say = (message: string) => {
    write.reset()
    setNotice(message)
  }
  const fromDialog = (f: () => Promise<{ message: string }>, done: string) =>
    dialogWrite.mutate(f, {
      onSuccess: () => {
        close()
        say(done)
      }
    })
  const SELF = "You cannot do this to your own account"

  return (
    <section className="card stack" aria-label="Users">
      <h2>Users</h2>
      <div className="table-wrap">
        <table aria-label="users">
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">Must change password</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => {
              const self = u.username === me
              return (
                <tr key={u.uuid}>
                  <th scope="row">
                    {u.username} {self && <span className="tag">you</span>}
                  </th>
                  <td>
                    <select
                      aria-label={`Role of ${u.username}`}
                      value={u.role}
                      disabled={self || write.isPending}
                      title={self ? `${SELF}: another admin must change your role` : undefined}
                      onChange={(e) => {
                        setNotice(undefined)
                        const role = e.target.value === "admin" ? "admin" : "viewer"
                        write.mutate(
                          () =>
                            call(
                              api.PUT("/api/v1/config/users/{user_uuid}/role", {
                                params: { path: { user_uuid: u.uuid } },
                                body: { role }
                              })
                            ),
                          { onSuccess: (d) => setNotice(`${d.message}: ${u.username} is now ${role}.`) }
                        )
                      }}
                    >
                      {ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  </td>
                  <td>{u.must_change_password ? "yes" : "no"}</td>
                  <td>
                    <div className="row">
                      <button
                        type="button"
                        aria-label={`Reset password of ${u.username}`}
                        onClick={() => setResetting(u)}
                      >
                        Reset password
                      </button>
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Delete ${u.username}`}
                        disabled={self}
                        title={self ? `${SELF}: another admin must delete it` : undefined}
                        onClick={() => setDeleting(u)}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
      {notice !== undefined && <output className="muted">{notice}</output>}
      <ErrorText error={write.error} />
      <h3>New user</h3>
      <CreateUser />

      <Modal
        open={resetting !== undefined}
        title={`Reset the password of ${resetting?.username ?? ""}`}
        onClose={close}
        onSubmit={(e) => {
          const user = resetting
          if (user === undefined) return
          const new_password = text(e, "password")
          fromDialog(
            () =>
              call(
                api.PUT("/api/v1/config/users/{user_uuid}/reset-password", {
                  params: { path: { user_uuid: user.uuid } },
                  body: { new_password }
                })
              ),
            `Password of ${user.username} reset: their sessions are over and they must choose a new password at next login.`
          )
        }}
      >
        <PasswordInput label="New password" />
        <p className="muted small">
          {PASSWORD_MIN}–{PASSWORD_MAX} characters. The user is logged out and must change it at next login.
        </p>
        <ErrorText error={dialogWrite.error} />
        <div className="row">
          <button type="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={dialogWrite.isPending}>
            Reset password
          </button>
        </div>
      </Modal>

      <Modal
        open={deleting !== undefined}
        title={`Delete ${deleting?.username ?? ""}?`}
        onClose={close}
        onSubmit={() => {
          const user = deleting
          if (user === undefined) return
          fromDialog(
            () =>
              call(
                api.DELETE("/api/v1/config/users/{user_uuid}", { params: { path: { user_uuid: user.uuid } } })
              ),
            `Deleted ${user.username}.`
          )
        }}
      >
        <p>
          {deleting?.username} ({deleting?.role}) loses access at once. This cannot be undone.
        </p>
        <ErrorText error={dialogWrite.error} />
        <div className="row">
          <button type="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={dialogWrite.isPending}>
            Delete user
          </button>
        </div>
      </Modal>
    </section>
  )
}

export const ConfigPage = () => {
  const { isAdmin } = useAuth()
  const config = useQuery({
    queryKey: ["config"],
    queryFn: () => call(api.GET("/api/v1/config")),
    staleTime: 10_000
  })
  const data = config.data
  return (
    <>
      <PageHeader title="Config" />
      <ErrorText error={config.error} />
      {data === undefined ? (
        config.isPending && <Loading what="configuration" />
      ) : (
        <div className="stack">
          <Limits config={data} isAdmin={isAdmin} />
          {isAdmin && <Users users={data.users ?? []} />}
        </div>
      )}
    </>
  )
}
