// Camera-to-destination streams with their live status (from the event stream), start and stop.

import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, api, type Camera, type Destination, type OutputStatus, type Preset, type Stream } from '../api';
import { ConfirmDialog } from '../components/Modal';
import StreamDialog from '../components/StreamDialog';
import { OutputStateBadge, StreamStateBadge } from '../components/StreamBadges';
import UplinkBadge from '../components/UplinkBadge';
import { Alert, CameraIcon, DestinationIcon, EmptyState, LoadingState, PageHeader } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useLiveStreams } from '../hooks/useLiveStreams';
import { useLoad } from '../hooks/useLoad';
import { describeLoadError, mapApiError, sentence } from '../lib/errors';
import { formatUptime } from '../lib/format';
import { audioLabel, formatBitrate, formatFps } from '../lib/streaming';

function LastError({ text }: { text: string | null }) {
  const [open, setOpen] = useState(false);
  if (!text) return <span className="text-slate-400">—</span>;
  const long = text.length > 60;
  return (
    <div className="flex min-w-0 items-start gap-2">
      <code
        className={`block min-w-0 flex-1 font-mono text-xs text-red-700 ${open ? 'whitespace-pre-wrap break-all' : 'truncate'}`}
        title={open ? undefined : text}
        data-testid="output-error"
      >
        {text}
      </code>
      {long && (
        <button
          type="button"
          className="shrink-0 text-xs font-medium text-sky-700 hover:text-sky-800"
          onClick={() => setOpen((o) => !o)}
          aria-expanded={open}
        >
          {open ? 'Less' : 'More'}
        </button>
      )}
    </div>
  );
}

function OutputsTable({ stream, destinations }: { stream: Stream; destinations: Record<number, Destination> }) {
  // A stopped stream has no outputs: list its destinations so the card still says where it goes.
  const rows: OutputStatus[] =
    stream.status.outputs.length > 0
      ? stream.status.outputs
      : stream.destination_ids.map((id) => ({
          destination_id: id,
          destination: destinations[id]?.name ?? `Destination ${id}`,
          state: 'stopped',
          uptime_s: 0,
          fps: null,
          bitrate_kbps: null,
          speed: null,
          restarts: 0,
          last_error: null,
        }));
  const live = stream.status.state !== 'stopped';
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full table-fixed divide-y divide-slate-100">
        <thead>
          <tr>
            <th scope="col" className="table-head w-48 py-2">
              Destination
            </th>
            <th scope="col" className="table-head w-28 py-2">
              State
            </th>
            <th scope="col" className="table-head w-20 py-2 text-right">
              FPS
            </th>
            <th scope="col" className="table-head w-28 py-2 text-right">
              Bitrate
            </th>
            <th scope="col" className="table-head w-24 py-2 text-right">
              Restarts
            </th>
            <th scope="col" className="table-head py-2">
              Last error
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map((o) => (
            <tr key={o.destination_id} data-testid="output-row">
              <td className="table-cell truncate py-2 font-medium text-slate-800" title={o.destination}>
                {o.destination}
              </td>
              <td className="table-cell py-2">
                {live ? <OutputStateBadge state={o.state} /> : <span className="text-slate-400">Stopped</span>}
                {live && <UplinkBadge uplink={o.uplink} />}
              </td>
              <td className="table-cell py-2 text-right tabular-nums">{live ? formatFps(o.fps) : '—'}</td>
              <td className="table-cell py-2 text-right tabular-nums">{live ? formatBitrate(o.bitrate_kbps) : '—'}</td>
              <td className="table-cell py-2 text-right tabular-nums">{live ? o.restarts : '—'}</td>
              <td className="table-cell max-w-0 py-2">
                <LastError text={o.last_error ?? null} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface CardProps {
  stream: Stream;
  camera?: Camera;
  preset?: Preset;
  destinations: Record<number, Destination>;
  onChanged: (s: Stream) => void;
  onEdit: (s: Stream) => void;
  onDelete: (s: Stream) => void;
}

function StreamCard({ stream, camera, preset, destinations, onChanged, onEdit, onDelete }: CardProps) {
  const start = useAction(() => api.startStream(stream.id));
  const stop = useAction(() => api.stopStream(stream.id));
  const busy = start.busy ? 'start' : stop.busy ? 'stop' : null;
  const failed = start.error ?? stop.error;
  const error = failed ? mapApiError(failed, []).form : null;
  const st = stream.status;
  const stopped = st.state === 'stopped';

  const run = async (what: 'start' | 'stop') => {
    (what === 'start' ? stop : start).reset();
    const s = await (what === 'start' ? start : stop).run();
    if (s) onChanged(s);
  };

  const lockedTitle = stopped ? undefined : 'Stop the stream to change it';
  return (
    <article className="card overflow-hidden" data-testid="stream-card" aria-label={`Stream ${stream.name}`}>
      <div className="flex flex-wrap items-start justify-between gap-4 p-5">
        <div className="min-w-0">
          <div className="flex flex-wrap items-center gap-3">
            <h2 className="truncate text-base font-semibold">{stream.name}</h2>
            <StreamStateBadge state={st.state} />
          </div>
          <p className="mt-1 flex flex-wrap items-center gap-x-1.5 text-sm text-slate-500">
            <CameraIcon className="h-4 w-4" />
            {camera ? (
              <Link to={`/cameras/${camera.id}`} className="font-medium text-slate-700 hover:text-sky-700">
                {camera.name}
              </Link>
            ) : (
              <span>Camera {stream.camera_id}</span>
            )}
            {stream.preset_id != null && <span>· preset {preset ? `“${preset.name}”` : stream.preset_id}</span>}
            <span aria-hidden="true">→</span>
            <span>
              {stream.destination_ids.length} destination{stream.destination_ids.length === 1 ? '' : 's'}
            </span>
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          {stopped ? (
            <button type="button" className="btn-primary" onClick={() => void run('start')} disabled={busy !== null}>
              {busy === 'start' ? 'Starting…' : 'Start'}
            </button>
          ) : (
            <button
              type="button"
              className="btn bg-slate-800 text-white shadow-sm hover:bg-slate-900"
              onClick={() => void run('stop')}
              disabled={busy !== null}
            >
              {busy === 'stop' ? 'Stopping…' : 'Stop'}
            </button>
          )}
          <button
            type="button"
            className="btn-secondary"
            onClick={() => onEdit(stream)}
            disabled={!stopped || busy !== null}
            title={lockedTitle}
            aria-label={`Edit ${stream.name}`}
          >
            Edit
          </button>
          <button
            type="button"
            className="btn-secondary text-red-600 hover:bg-red-50"
            onClick={() => onDelete(stream)}
            disabled={!stopped || busy !== null}
            title={lockedTitle}
            aria-label={`Delete ${stream.name}`}
          >
            Delete
          </button>
        </div>
      </div>
      {error && (
        <div className="px-5 pb-4">
          <Alert title="The stream could not be changed">{error}</Alert>
        </div>
      )}
      <dl className="grid grid-cols-2 gap-4 border-y border-slate-100 bg-slate-50/60 px-5 py-3 sm:grid-cols-3">
        <div>
          <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">Uptime</dt>
          <dd className="mt-0.5 text-sm font-medium tabular-nums text-slate-900" data-testid="stream-uptime">
            {stopped ? '—' : formatUptime(st.uptime_s)}
          </dd>
        </div>
        <div>
          <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">Audio</dt>
          <dd className="mt-0.5 text-sm text-slate-900" title={audioLabel(st.audio)} data-testid="stream-audio">
            {st.audio ?? '—'}
          </dd>
        </div>
        <div className="col-span-2 sm:col-span-1">
          <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">Video</dt>
          <dd className="mt-0.5 text-sm text-slate-900">Copied from the camera (no re-encoding)</dd>
        </div>
      </dl>
      <div className="px-1 pb-2">
        <OutputsTable stream={stream} destinations={destinations} />
      </div>
    </article>
  );
}

function SetupChecklist({ cameras, destinations }: { cameras: number; destinations: number }) {
  const item = (step: number, done: boolean, title: string, text: string, to: string, action: string) => (
    <li className="flex items-start gap-3 py-3">
      <span
        className={`mt-0.5 flex h-5 w-5 shrink-0 items-center justify-center rounded-full text-xs font-bold ${
          done ? 'bg-emerald-100 text-emerald-700' : 'bg-slate-100 text-slate-500'
        }`}
        aria-hidden="true"
      >
        {done ? '✓' : step}
      </span>
      <div className="min-w-0 flex-1">
        <p className="text-sm font-medium text-slate-900">
          {title} {done && <span className="font-normal text-emerald-700">(done)</span>}
        </p>
        <p className="text-sm text-slate-500">{text}</p>
      </div>
      {!done && (
        <Link to={to} className="btn-secondary btn-sm shrink-0">
          {action}
        </Link>
      )}
    </li>
  );
  return (
    <div className="card px-6 py-10">
      <div className="mx-auto max-w-lg">
        <div className="text-center">
          <div className="mx-auto mb-4 w-fit text-slate-400">
            <DestinationIcon />
          </div>
          <h2 className="text-base font-semibold">Before your first stream</h2>
          <p className="mt-1 text-sm text-slate-500">
            A stream sends one camera to one or more destinations. You need at least one of each.
          </p>
        </div>
        <ol className="mt-6 divide-y divide-slate-100 border-y border-slate-100">
          {item(
            1,
            cameras > 0,
            'Add a camera',
            'The IP camera whose picture is streamed.',
            '/cameras/new',
            'Add a camera',
          )}
          {item(
            2,
            destinations > 0,
            'Add a destination',
            'Your YouTube, Facebook or Twitch channel, or an RTMP/SRT server.',
            '/destinations',
            'Add a destination',
          )}
        </ol>
      </div>
    </div>
  );
}

export default function Streams() {
  const { data: streams, error, replace, remove, live, pushed } = useLiveStreams();
  const stale = error !== null && streams !== undefined;
  const cameras = useLoad(() => api.listCameras(), []);
  const destinations = useLoad(() => api.listDestinations(), []);
  const [presets, setPresets] = useState<Record<number, Preset>>({});
  const [editing, setEditing] = useState<Stream | 'new' | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const fetchedPresets = useRef(new Set<number>());

  // Preset names for the cards: one request per camera that streams from a preset.
  useEffect(() => {
    const cams = new Set((streams ?? []).filter((s) => s.preset_id != null).map((s) => s.camera_id));
    for (const cam of cams) {
      if (fetchedPresets.current.has(cam)) continue;
      fetchedPresets.current.add(cam);
      api
        .listPresets(cam)
        .then((list) =>
          setPresets((prev) => {
            const next = { ...prev };
            for (const p of list) next[p.id] = p;
            return next;
          }),
        )
        .catch(() => fetchedPresets.current.delete(cam));
    }
  }, [streams]);

  const cameraMap: Record<number, Camera> = {};
  for (const c of cameras.data ?? []) cameraMap[c.id] = c;
  const destMap: Record<number, Destination> = {};
  for (const d of destinations.data ?? []) destMap[d.id] = d;

  const canCreate = (cameras.data?.length ?? 0) > 0 && (destinations.data?.length ?? 0) > 0;
  const started = (streams ?? []).filter((s) => s.status.state !== 'stopped');
  const onAir = started.filter((s) => s.status.state === 'running' || s.status.state === 'degraded').length;

  const onSaved = (s: Stream) => {
    setNotice(
      editing === 'new'
        ? `Stream “${s.name}” was created. Start it when you are ready.`
        : `Stream “${s.name}” was saved.`,
    );
    fetchedPresets.current.delete(s.camera_id);
    replace(s);
    setEditing(null);
  };

  const del = useConfirmDelete((st: Stream) => api.deleteStream(st.id), {
    onDeleted: (st) => {
      remove(st.id);
      setNotice(`Stream “${st.name}” was deleted.`);
    },
    describe: (err) =>
      err instanceof ApiError && err.status === 409 ? sentence(err.message) : mapApiError(err, []).form,
  });

  let body;
  if (streams === undefined && !error) {
    body = <LoadingState label="Loading streams…" />;
  } else if (streams === undefined) {
    body = <Alert title="Streams could not be loaded">{describeLoadError(error)}</Alert>;
  } else if (streams.length === 0) {
    if (cameras.data === undefined || destinations.data === undefined) {
      body = <LoadingState label="Loading…" />;
    } else if (!canCreate) {
      body = <SetupChecklist cameras={cameras.data.length} destinations={destinations.data.length} />;
    } else {
      body = (
        <EmptyState
          icon={<DestinationIcon />}
          title="No streams yet"
          description="Create a stream to send a camera’s picture to one or more of your destinations. Video is copied as the camera sends it, so streaming costs almost no CPU."
          action={
            <button type="button" className="btn-primary" onClick={() => setEditing('new')}>
              Create your first stream
            </button>
          }
        />
      );
    }
  } else {
    body = (
      <div className="space-y-6">
        {streams.map((s) => (
          <StreamCard
            key={s.id}
            stream={s}
            camera={cameraMap[s.camera_id]}
            preset={s.preset_id != null ? presets[s.preset_id] : undefined}
            destinations={destMap}
            onChanged={(s) => {
              setNotice(null);
              replace(s);
            }}
            onEdit={(x) => {
              setNotice(null);
              setEditing(x);
            }}
            onDelete={del.ask}
          />
        ))}
      </div>
    );
  }

  return (
    <>
      <PageHeader
        title="Streams"
        description={
          streams && streams.length > 0
            ? `${onAir} of ${streams.length} on air${started.length > onAir ? `, ${started.length - onAir} starting or reconnecting` : ''} · ${live === 'live' && pushed ? 'live status' : 'status refreshes every 15 seconds'}.`
            : 'Send a camera to YouTube, Facebook, Twitch or your own server.'
        }
        actions={
          streams && streams.length > 0 ? (
            <button
              type="button"
              className="btn-primary"
              onClick={() => {
                setNotice(null);
                setEditing('new');
              }}
              disabled={!canCreate}
              title={canCreate ? undefined : 'Add a camera and a destination first'}
            >
              Create stream
            </button>
          ) : undefined
        }
      />
      {stale && streams !== undefined && (
        <div className="mb-4">
          <Alert kind="warning">Status is not updating: {describeLoadError(error)} Retrying…</Alert>
        </div>
      )}
      {notice && (
        <div className="mb-4">
          <Alert kind="success">{notice}</Alert>
        </div>
      )}
      {body}
      {editing && cameras.data && destinations.data && (
        <StreamDialog
          stream={editing === 'new' ? null : editing}
          cameras={cameras.data}
          destinations={destinations.data}
          onSaved={onSaved}
          onClose={() => setEditing(null)}
        />
      )}
      {del.target && (
        <ConfirmDialog
          title="Delete stream?"
          message={
            <>
              The stream <strong className="text-slate-900">{del.target.name}</strong> will be deleted. The camera and
              the destinations stay.
            </>
          }
          confirmLabel="Delete stream"
          {...del.dialog}
        />
      )}
    </>
  );
}
