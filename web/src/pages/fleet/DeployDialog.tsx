/**
 * Deploy from an INI (`POST /deckies/deploy` `{ini_content, replace_fleet}`): the server's detail under the
 * editor on 400/409/422; on 202 its message and the per-decky lifecycle until every row is done. The page
 * tracks the deploy too (`onAccepted`), so when every decky succeeded the dialog closes itself and the
 * outcome stays on the page; when one failed it stays open to fix the INI.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, useState } from "react"
import { api, call } from "../../api/client"
import { ErrorText } from "../../components/ui"
import { LifecycleProgress } from "./LifecycleProgress"
import { freeName, sampleIni } from "./model"
import { Modal } from "./Modal"

export const DeployDialog = ({
  names,
  onClose,
  onAccepted
}: {
  names: ReadonlyArray<string>
  onClose: () => void
  onAccepted: (message: string, ids: ReadonlyArray<string>) => void
}) => {
  const queryClient = useQueryClient()
  const [ini, setIni] = useState(() => sampleIni(freeName(names)))
  const [replace, setReplace] = useState(false)
  const deploy = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/deckies/deploy", { body: { ini_content: ini, replace_fleet: replace } })),
    onSuccess: (r) => {
      onAccepted(r.message, r.lifecycle_ids)
      return queryClient.invalidateQueries({ queryKey: ["deckies"] })
    }
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    deploy.mutate()
  }
  return (
    <Modal title="Deploy deckies" onClose={onClose} wide>
      <form className="deploy-form" onSubmit={submit}>
        <p className="muted small">
          One <code>[section]</code> per decky, named like the decky; <code>services=</code> (comma list) or{" "}
          <code>archetype=</code>; optional <code>mutate_interval=</code> (minutes) and{" "}
          <code>[decky.service]</code> settings.
        </p>
        <textarea
          aria-label="INI"
          rows={14}
          spellCheck={false}
          value={ini}
          onChange={(e) => setIni(e.target.value)}
        />
        <ErrorText error={deploy.error} />
        <label className="inline">
          <input type="checkbox" checked={replace} onChange={(e) => setReplace(e.target.checked)} />
          Replace the whole fleet
        </label>
        {replace && <p className="notice small">Deckies that are not in this INI are stopped and removed.</p>}
        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={deploy.isPending || ini.trim() === ""}
            aria-busy={deploy.isPending}
          >
            Deploy
          </button>
        </div>
      </form>
      {deploy.data !== undefined && (
        <>
          <p role="status" className="small">
            {deploy.data.message}
          </p>
          <LifecycleProgress
            key={deploy.data.lifecycle_ids.join(",")}
            ids={deploy.data.lifecycle_ids}
            label="Deploy"
            onDone={(failed) => {
              if (failed === 0) onClose()
            }}
          />
        </>
      )}
    </Modal>
  )
}
