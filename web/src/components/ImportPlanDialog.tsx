// Before a timeline file is imported: every camera it refers to (addresses without credentials),
// what each becomes — a configured camera, or a new one created disabled — and the import's
// verdict with these choices. Nothing is written, and no camera contacted, until Import.

import { useEffect, useState } from 'react';
import { studio, type Camera, type CameraChoice, type CameraReference, type ImportPlan } from '../api';
import { mapApiError } from '../lib/errors';
import { Modal } from './Modal';
import { Alert } from './ui';

const CREATE = 'create';

/** The choice a reference starts with: what the plan proposes. */
function initialChoice(r: CameraReference): string {
  if (r.action === 'existing' && r.camera) return String(r.camera.id);
  if (r.can_create) return CREATE;
  return '';
}

export function needsChoices(plan: ImportPlan): boolean {
  return plan.cameras.some((c) => c.action !== 'existing');
}

export default function ImportPlanDialog({
  segment,
  initial,
  cameras,
  onImported,
  onClose,
}: {
  /** The file as read. */
  segment: unknown;
  initial: ImportPlan;
  cameras: Camera[];
  onImported: (r: Awaited<ReturnType<typeof studio.importWithChoices>>) => void;
  onClose: () => void;
}) {
  const [choice, setChoice] = useState<Record<string, string>>(() =>
    Object.fromEntries(initial.cameras.map((r) => [r.key, initialChoice(r)])),
  );
  const [names, setNames] = useState<Record<string, string>>(() =>
    Object.fromEntries(initial.cameras.map((r) => [r.key, r.create_name ?? ''])),
  );
  const [plan, setPlan] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Only the references the configured cameras do not answer, or that the user changed, are sent.
  const choices: CameraChoice[] = initial.cameras
    .filter((r) => r.action !== 'existing' || choice[r.key] !== initialChoice(r))
    .map((r) =>
      choice[r.key] === CREATE
        ? { key: r.key, name: names[r.key]?.trim() || null }
        : { key: r.key, camera_id: choice[r.key] ? Number(choice[r.key]) : null },
    );
  const unchosen = initial.cameras.filter((r) => !choice[r.key]);
  const body = JSON.stringify(choices);

  // The verdict follows the choices (a camera without the preset the file names, a name taken…).
  useEffect(() => {
    if (unchosen.length > 0) return;
    let alive = true;
    const t = window.setTimeout(() => {
      studio.planImport(segment, JSON.parse(body) as CameraChoice[]).then(
        (p) => alive && setPlan(p),
        () => undefined,
      );
    }, 300);
    return () => {
      alive = false;
      window.clearTimeout(t);
    };
  }, [body, segment, unchosen.length]);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      onImported(await studio.importWithChoices(segment, choices));
    } catch (e) {
      setError(mapApiError(e, []).form ?? 'The file was not imported.');
    } finally {
      setBusy(false);
    }
  };

  const creating = initial.cameras.filter((r) => choice[r.key] === CREATE).length;
  return (
    <Modal title={`Import “${initial.name || 'timeline'}”`} onClose={onClose}>
      <div className="space-y-4 text-sm" data-testid="import-plan">
        <p className="text-slate-600">
          This file refers to {initial.cameras.length === 1 ? 'one camera' : `${initial.cameras.length} cameras`}.
          Choose, for each, a camera of this appliance or a new one. Nothing is saved, and no camera is contacted, until
          you import.
        </p>
        <ul className="space-y-3">
          {initial.cameras.map((r, i) => {
            const id = `plan-camera-${i}`;
            return (
              <li key={r.key} className="rounded-lg border border-slate-200 p-3" data-testid="plan-camera">
                <p className="break-all font-mono text-xs text-slate-800" data-testid="plan-address">
                  {r.address ?? `Camera named “${r.name}”`}
                </p>
                <p className="mt-0.5 text-xs text-slate-500">
                  Used by {r.used_by.length} clip{r.used_by.length === 1 ? '' : 's'}
                  {r.with_credentials && ' · the file has a login for it: it is stored encrypted, never shown'}
                  {r.existing && ` · this appliance has it: ${r.existing.name}`}
                </p>
                <label htmlFor={id} className="label mt-2">
                  Use
                </label>
                <select
                  id={id}
                  className="input min-h-11"
                  value={choice[r.key] ?? ''}
                  onChange={(e) => setChoice((c) => ({ ...c, [r.key]: e.target.value }))}
                >
                  {!r.can_create && <option value="">Choose a camera…</option>}
                  {r.can_create && <option value={CREATE}>A new camera (created disabled)</option>}
                  {cameras.map((c) => (
                    <option key={c.id} value={String(c.id)}>
                      {c.name}
                      {c.enabled ? '' : ' (disabled)'}
                    </option>
                  ))}
                </select>
                {choice[r.key] === CREATE && (
                  <div className="mt-2">
                    <label htmlFor={`${id}-name`} className="label">
                      Name of the new camera
                    </label>
                    <input
                      id={`${id}-name`}
                      className="input min-h-11"
                      value={names[r.key] ?? ''}
                      onChange={(e) => setNames((n) => ({ ...n, [r.key]: e.target.value }))}
                    />
                  </div>
                )}
              </li>
            );
          })}
        </ul>
        {creating > 0 && (
          <Alert kind="info">
            {creating === 1 ? 'The new camera starts' : `The ${creating} new cameras start`} disabled: enable{' '}
            {creating === 1 ? 'it' : 'them'} on the Cameras page when you are ready for the appliance to connect.
          </Alert>
        )}
        {unchosen.length > 0 ? (
          <Alert kind="warning">Choose a camera for {unchosen.map((r) => r.name ?? r.key).join(', ')}.</Alert>
        ) : (
          plan.problem && (
            <Alert title="The import would be refused" kind="error">
              {plan.problem.field && (
                <code className="mr-1 rounded bg-white/60 px-1 text-xs">{plan.problem.field}</code>
              )}
              {plan.problem.message}
            </Alert>
          )
        )}
        {error && <Alert title="The file was not imported">{error}</Alert>}
        <div className="flex flex-wrap justify-end gap-2 pt-2">
          <button type="button" className="btn-secondary min-h-11" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className="btn-primary min-h-11"
            onClick={() => void confirm()}
            disabled={busy || unchosen.length > 0}
          >
            {busy ? 'Importing…' : 'Import'}
          </button>
        </div>
      </div>
    </Modal>
  );
}
