// All cameras with a thumbnail each (a still from the camera hub's cache, refreshed slowly): a
// table on wide screens, cards on a phone; add, edit and delete.

import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { api, type Camera } from '../api';
import { ConfirmDialog } from '../components/Modal';
import Snapshot from '../components/Snapshot';
import StatusBadge from '../components/StatusBadge';
import { Alert, CameraIcon, EmptyState, LoadingState, PageHeader } from '../components/ui';
import { useCameraHealth } from '../hooks/useCameraHealth';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { useMediaQuery, WIDE } from '../hooks/useMediaQuery';
import { removeId } from '../lib/collections';
import { describeLoadError } from '../lib/errors';
import { redactUrl } from '../lib/format';

export default function Cameras() {
  const navigate = useNavigate();
  const cameras = useLoad(() => api.listCameras(), []);
  const { health } = useCameraHealth();
  const [notice, setNotice] = useState<string | null>(null);
  const wide = useMediaQuery(WIDE);
  const reloadCameras = cameras.reload;
  // Cameras added elsewhere (another browser, a timeline import) appear without a reload.
  useEvents({ camera_changed: () => void reloadCameras() }, { onResync: () => void reloadCameras() });

  const del = useConfirmDelete((c: Camera) => api.deleteCamera(c.id), {
    onDeleted: (c) => {
      cameras.setData((prev) => removeId(prev, c.id));
      setNotice(`Camera “${c.name}” was deleted.`);
    },
  });

  const list = cameras.data;
  return (
    <>
      <PageHeader
        title="Cameras"
        description="IP cameras this appliance can show and stream."
        actions={
          list && list.length > 0 ? (
            <Link to="/cameras/new" className="btn-primary">
              Add camera
            </Link>
          ) : undefined
        }
      />
      {notice && (
        <div className="mb-4">
          <Alert kind="success">{notice}</Alert>
        </div>
      )}
      {list === undefined && cameras.loading ? (
        <LoadingState label="Loading cameras…" />
      ) : cameras.error && !list ? (
        <Alert title="Cameras could not be loaded">{describeLoadError(cameras.error)}</Alert>
      ) : !list || list.length === 0 ? (
        <EmptyState
          icon={<CameraIcon />}
          title="No cameras yet"
          description="Add an RTSP, RTMP or SRT camera to preview it, save PTZ presets and stream it."
          action={
            <Link to="/cameras/new" className="btn-primary">
              Add your first camera
            </Link>
          }
        />
      ) : !wide ? (
        <ul className="space-y-3" aria-label="Cameras">
          {list.map((c) => (
            <li key={c.id} className="card overflow-hidden" data-testid="camera-card">
              <Link to={`/cameras/${c.id}`} className="block" tabIndex={-1} aria-hidden="true">
                <Snapshot
                  cameraId={c.id}
                  alt={`Thumbnail of ${c.name}`}
                  width={320}
                  intervalMs={15000}
                  className="aspect-video"
                />
              </Link>
              <div className="flex flex-wrap items-center gap-2 px-4 py-3">
                <Link
                  to={`/cameras/${c.id}`}
                  className="flex min-h-11 min-w-0 flex-1 items-center font-medium text-slate-900"
                >
                  <span className="truncate">{c.name}</span>
                </Link>
                <StatusBadge state={c.enabled === false ? 'disabled' : health[c.id]?.state} cameraId={c.id} />
                <Link to={`/cameras/${c.id}/edit`} className="btn-ghost btn-sm" aria-label={`Edit ${c.name}`}>
                  Edit
                </Link>
                <button
                  type="button"
                  className="btn-ghost btn-sm text-red-600 hover:bg-red-50 hover:text-red-700"
                  onClick={() => del.ask(c)}
                  aria-label={`Delete ${c.name}`}
                >
                  Delete
                </button>
              </div>
              <p className="truncate px-4 pb-3 font-mono text-xs text-slate-500">
                {c.type === 'PTZ' ? 'PTZ' : 'Static'} · {redactUrl(c.address)}
              </p>
            </li>
          ))}
        </ul>
      ) : (
        <div className="card overflow-x-auto">
          <table className="min-w-full divide-y divide-slate-200">
            <thead className="bg-slate-50">
              <tr>
                <th scope="col" className="table-head w-28">
                  <span className="sr-only">Picture</span>
                </th>
                <th scope="col" className="table-head">
                  Name
                </th>
                <th scope="col" className="table-head">
                  Type
                </th>
                <th scope="col" className="table-head">
                  Protocol
                </th>
                <th scope="col" className="table-head">
                  Address
                </th>
                <th scope="col" className="table-head">
                  Status
                </th>
                <th scope="col" className="table-head text-right">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {list.map((c) => (
                <tr
                  key={c.id}
                  className="cursor-pointer hover:bg-slate-50"
                  onClick={() => navigate(`/cameras/${c.id}`)}
                  data-testid="camera-row"
                >
                  <td className="py-2 pl-4">
                    <Snapshot
                      cameraId={c.id}
                      alt={`Thumbnail of ${c.name}`}
                      width={192}
                      intervalMs={15000}
                      className="aspect-video w-24 rounded"
                    />
                  </td>
                  <td className="table-cell font-medium text-slate-900">
                    <Link to={`/cameras/${c.id}`} className="hover:text-sky-700" onClick={(e) => e.stopPropagation()}>
                      {c.name}
                    </Link>
                  </td>
                  <td className="table-cell">{c.type === 'PTZ' ? 'PTZ' : 'Static'}</td>
                  <td className="table-cell">{c.protocol}</td>
                  <td className="table-cell max-w-xs truncate font-mono text-xs" title={redactUrl(c.address)}>
                    {redactUrl(c.address)}
                  </td>
                  <td className="table-cell">
                    <StatusBadge state={c.enabled === false ? 'disabled' : health[c.id]?.state} cameraId={c.id} />
                  </td>
                  <td className="table-cell whitespace-nowrap text-right" onClick={(e) => e.stopPropagation()}>
                    <Link to={`/cameras/${c.id}/edit`} className="btn-ghost btn-sm" aria-label={`Edit ${c.name}`}>
                      Edit
                    </Link>
                    <button
                      type="button"
                      className="btn-ghost btn-sm text-red-600 hover:bg-red-50 hover:text-red-700"
                      onClick={() => del.ask(c)}
                      aria-label={`Delete ${c.name}`}
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
      {del.target && (
        <ConfirmDialog
          title="Delete camera?"
          message={
            <>
              <strong className="text-slate-900">{del.target.name}</strong> and all of its presets will be deleted. This
              cannot be undone.
            </>
          }
          confirmLabel="Delete camera"
          {...del.dialog}
        />
      )}
    </>
  );
}
