// One camera: its picture, its settings, its health and its presets.

import { useCallback, useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, type Camera, type Preset, type PtzState, type TestResult } from '../api';
import EventsLink from '../components/EventsLink';
import { ConfirmDialog } from '../components/Modal';
import PresetDialog from '../components/PresetDialog';
import PtzPanel, { CentreOnClick } from '../components/PtzPanel';
import SessionCard from '../components/SessionCard';
import LivePlayer from '../components/LivePlayer';
import StatusBadge from '../components/StatusBadge';
import TestResultBox from '../components/TestResultBox';
import { Alert, EmptyState, LoadingState, PageHeader } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { useCameraHealth } from '../hooks/useCameraHealth';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { byName, eventId, removeId, upsert } from '../lib/collections';
import { describeLoadError, mapApiError, sentence, TEST_UNAVAILABLE } from '../lib/errors';
import { formatDateTime, formatRelative, formatStreamInfo, redactUrl } from '../lib/format';
import { describePtzError } from '../lib/streaming';

function Info({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="py-2.5 sm:grid sm:grid-cols-3 sm:gap-4">
      <dt className="text-sm text-slate-500">{label}</dt>
      <dd className="mt-0.5 break-words text-sm text-slate-900 sm:col-span-2 sm:mt-0">{children}</dd>
    </div>
  );
}

type MoveState = { state: 'moving' } | { state: 'arrived'; ms: number } | { state: 'error'; message: string };

function MoveStatus({ move }: { move?: MoveState }) {
  if (!move) return null;
  if (move.state === 'moving') return <span className="text-sky-700">moving…</span>;
  if (move.state === 'arrived') return <span className="text-emerald-700">arrived in {move.ms} ms</span>;
  return <span className="text-red-600">{move.message}</span>;
}

function fmt(n: number): string {
  return String(Number(n.toFixed(2)));
}

export default function CameraDetail() {
  const params = useParams();
  const id = Number(params.id);
  const navigate = useNavigate();
  const camera = useLoad(() => api.getCamera(id), [id]);
  const presets = useLoad(() => api.listPresets(id), [id]);
  const { health: healthMap } = useCameraHealth();
  const health = healthMap[id] ?? null;
  const [editing, setEditing] = useState<Preset | 'new' | null>(null);
  const [moves, setMoves] = useState<Record<number, MoveState>>({});
  const [ptzRefresh, setPtzRefresh] = useState(0);
  const [ptzState, setPtzState] = useState<PtzState | null>(null);
  const reloadCamera = camera.reload;
  useEvents(
    {
      camera_changed: (data) => {
        if (eventId(data) === id) void reloadCamera();
      },
    },
    { onResync: () => void reloadCamera() },
  );

  const test = useAction(() => api.testCamera(id));
  const testError = test.error ? mapApiError(test.error, [], {}, TEST_UNAVAILABLE).form : null;
  const [testResult, setTestResult] = useState<TestResult | null>(null);
  const onTest = async () => {
    setTestResult(null);
    setTestResult((await test.run()) ?? null);
  };

  const deleteCamera = useConfirmDelete((c: Camera) => api.deleteCamera(c.id), {
    onDeleted: () => navigate('/cameras', { replace: true }),
  });
  const deletePreset = useConfirmDelete((p: Preset) => api.deletePreset(p.id), {
    onDeleted: (p) => presets.setData((prev) => removeId(prev, p.id)),
  });

  const onGo = async (p: Preset) => {
    const key = p.id;
    setMoves((m) => ({ ...m, [key]: { state: 'moving' } }));
    try {
      const r = await api.moveToPreset(p.id);
      setMoves((m) => ({ ...m, [key]: { state: 'arrived', ms: r.elapsed_ms } }));
    } catch (err) {
      setMoves((m) => ({ ...m, [key]: { state: 'error', message: describePtzError(err) } }));
    } finally {
      setPtzRefresh((n) => n + 1);
    }
  };

  const setPresets = presets.setData;
  const onPresetsAdded = useCallback(
    (added: Preset[]) => {
      if (added.length === 0) return;
      setPresets((prev) => added.reduce<Preset[]>((list, p) => upsert(list, p, byName), prev ?? []));
    },
    [setPresets],
  );

  const onPresetSaved = (saved: Preset) => {
    setPresets((prev) => upsert(prev, saved, byName));
    setEditing(null);
  };

  const back = (
    <Link to="/cameras" className="hover:text-slate-700">
      ← Cameras
    </Link>
  );

  if (!camera.data) {
    return camera.loading ? (
      <LoadingState label="Loading camera…" />
    ) : (
      <>
        <PageHeader title="Camera" breadcrumb={back} />
        <Alert title="The camera could not be loaded">{describeLoadError(camera.error)}</Alert>
      </>
    );
  }

  const c = camera.data;
  const state = c.enabled === false ? 'disabled' : (health?.state ?? 'unknown');
  const probe = health ? formatStreamInfo(health) : '';
  const ptz = c.type === 'PTZ';
  const detailsCard = (span: string) => (
    <div className={`card p-5 ${span}`}>
      <h2 className="text-base font-semibold">Details</h2>
      <dl
        className={`mt-2 divide-y divide-slate-100 ${span.includes('col-span-3') ? 'lg:grid lg:grid-cols-2 lg:gap-x-10 lg:divide-y-0' : ''}`}
      >
        <Info label="Address">
          <span className="font-mono text-xs" data-testid="camera-address">
            {redactUrl(c.address)}
          </span>
        </Info>
        <Info label="Username">{c.username || <span className="text-slate-400">None</span>}</Info>
        <Info label="Password">{c.has_password ? 'Stored' : <span className="text-slate-400">None</span>}</Info>
        {c.type === 'PTZ' && (
          <Info label="ONVIF">
            {c.onvif_host || c.onvif_port ? (
              `${c.onvif_host ?? 'stream host'}:${c.onvif_port ?? 80}`
            ) : (
              <span className="text-slate-400">Stream host, port 80</span>
            )}
          </Info>
        )}
        <Info label="Enabled">{c.enabled === false ? 'No' : 'Yes'}</Info>
        <Info label="Last seen">
          <span title={formatDateTime(health?.last_seen)}>{formatRelative(health?.last_seen)}</span>
        </Info>
        {probe && <Info label="Stream">{probe}</Info>}
        {health?.last_error && (
          <Info label="Last error">
            <span className="text-red-600">{sentence(health.last_error)}</span>{' '}
            <EventsLink type="camera" id={c.id}>
              See the camera’s events
            </EventsLink>
          </Info>
        )}
        <Info label="Added">{formatDateTime(c.created_at)}</Info>
      </dl>
    </div>
  );

  return (
    <>
      <PageHeader
        breadcrumb={back}
        title={
          <span className="flex items-center gap-3">
            <span className="truncate">{c.name}</span>
            <StatusBadge state={state} cameraId={c.id} />
          </span>
        }
        description={`${c.type === 'PTZ' ? 'PTZ' : 'Static'} camera · ${c.protocol}`}
        actions={
          <>
            <button type="button" className="btn-secondary" onClick={() => void onTest()} disabled={test.busy}>
              {test.busy ? 'Testing connection…' : 'Test connection'}
            </button>
            <Link to={`/cameras/${c.id}/edit`} className="btn-secondary">
              Edit camera
            </Link>
            <button
              type="button"
              className="btn-secondary text-red-600 hover:bg-red-50"
              onClick={() => deleteCamera.ask(c)}
            >
              Delete camera
            </button>
          </>
        }
      />

      {(testResult || testError) && (
        <div className="mb-6">{testResult ? <TestResultBox result={testResult} /> : <Alert>{testError}</Alert>}</div>
      )}

      <div className="grid grid-cols-1 gap-6 lg:grid-cols-5">
        <div className="lg:col-span-3">
          <div className="card overflow-hidden">
            {ptz ? (
              <CentreOnClick cameraId={c.id} state={ptzState} onMoved={() => setPtzRefresh((n) => n + 1)}>
                <LivePlayer cameraId={c.id} alt={`Live view of ${c.name}`} className="aspect-video" intervalMs={3000} />
              </CentreOnClick>
            ) : (
              <LivePlayer cameraId={c.id} alt={`Live view of ${c.name}`} className="aspect-video" intervalMs={5000} />
            )}
          </div>
        </div>
        {ptz ? (
          <div className="lg:col-span-2">
            <PtzPanel cameraId={c.id} refreshKey={ptzRefresh} onPresetsAdded={onPresetsAdded} onState={setPtzState} />
          </div>
        ) : (
          <div className="space-y-6 lg:col-span-2">
            {detailsCard('')}
            <SessionCard cameraId={c.id} />
          </div>
        )}
        {ptz && detailsCard('lg:col-span-3')}
        {ptz && (
          <div className="lg:col-span-2">
            <SessionCard cameraId={c.id} />
          </div>
        )}
      </div>

      <section aria-labelledby="presets-heading" className="mt-10">
        <div className="mb-4 flex items-center justify-between gap-4">
          <div>
            <h2 id="presets-heading" className="text-lg font-semibold">
              Presets
            </h2>
            <p className="text-sm text-slate-600">
              Saved camera positions used by streams and timelines
              {ptz ? '; “Go” moves the camera there now' : ' (they move PTZ cameras only)'}.
            </p>
          </div>
          {presets.data && presets.data.length > 0 && (
            <button type="button" className="btn-primary" onClick={() => setEditing('new')}>
              Add preset
            </button>
          )}
        </div>
        {presets.data === undefined && presets.loading ? (
          <LoadingState label="Loading presets…" />
        ) : presets.error && !presets.data ? (
          <Alert>{describeLoadError(presets.error)}</Alert>
        ) : !presets.data || presets.data.length === 0 ? (
          <EmptyState
            title="No presets yet"
            description="Save a position (pan, tilt and zoom) to cut to it from a timeline."
            action={
              <button type="button" className="btn-primary" onClick={() => setEditing('new')}>
                Add preset
              </button>
            }
          />
        ) : (
          <div className="card overflow-x-auto">
            <table className="min-w-full divide-y divide-slate-200">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className="table-head">
                    Name
                  </th>
                  <th scope="col" className="table-head text-right">
                    Pan
                  </th>
                  <th scope="col" className="table-head text-right">
                    Tilt
                  </th>
                  <th scope="col" className="table-head text-right">
                    Zoom
                  </th>
                  {ptz && (
                    <th scope="col" className="table-head">
                      Move
                    </th>
                  )}
                  <th scope="col" className="table-head">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {presets.data.map((p) => (
                  <tr key={p.id} data-testid="preset-row">
                    <td className="table-cell font-medium text-slate-900">{p.name}</td>
                    <td className="table-cell text-right tabular-nums">{fmt(p.pan)}°</td>
                    <td className="table-cell text-right tabular-nums">{fmt(p.tilt)}°</td>
                    <td className="table-cell text-right tabular-nums">{fmt(p.zoom)}%</td>
                    {ptz && (
                      <td className="table-cell text-sm" aria-live="polite" data-testid="preset-move">
                        <MoveStatus move={moves[p.id]} />
                      </td>
                    )}
                    <td className="table-cell whitespace-nowrap text-right">
                      {ptz && (
                        <button
                          type="button"
                          className="btn-secondary btn-sm mr-1"
                          onClick={() => void onGo(p)}
                          disabled={moves[p.id]?.state === 'moving'}
                          aria-label={`Go to preset ${p.name}`}
                          title="Move the camera to this preset"
                        >
                          Go
                        </button>
                      )}
                      <button
                        type="button"
                        className="btn-ghost btn-sm"
                        onClick={() => setEditing(p)}
                        aria-label={`Edit preset ${p.name}`}
                      >
                        Edit
                      </button>
                      <button
                        type="button"
                        className="btn-ghost btn-sm text-red-600 hover:bg-red-50 hover:text-red-700"
                        onClick={() => deletePreset.ask(p)}
                        aria-label={`Delete preset ${p.name}`}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {editing && (
        <PresetDialog
          cameraId={c.id}
          preset={editing === 'new' ? null : editing}
          onSaved={onPresetSaved}
          onClose={() => setEditing(null)}
        />
      )}
      {deletePreset.target && (
        <ConfirmDialog
          title="Delete preset?"
          message={
            <>
              The preset <strong className="text-slate-900">{deletePreset.target.name}</strong> will be deleted.
            </>
          }
          confirmLabel="Delete preset"
          {...deletePreset.dialog}
        />
      )}
      {deleteCamera.target && (
        <ConfirmDialog
          title="Delete camera?"
          message={
            <>
              <strong className="text-slate-900">{c.name}</strong> and all of its presets will be deleted. This cannot
              be undone.
            </>
          }
          confirmLabel="Delete camera"
          {...deleteCamera.dialog}
        />
      )}
    </>
  );
}
