// A live tile for every camera first (what an operator checks), then system health at a glance.

import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, api, type Camera, type CameraHealth, type Stream, type SystemStatus } from '../api';
import LivePlayer from '../components/LivePlayer';
import StatusBadge from '../components/StatusBadge';
import StudioLinkCard from '../components/StudioLinkCard';
import { Alert, CameraIcon, EmptyState, LoadingState, Meter, PageHeader, Stat } from '../components/ui';
import { useCameraHealth } from '../hooks/useCameraHealth';
import { useEvents, type LiveState } from '../hooks/useEvents';
import { useLiveStreams } from '../hooks/useLiveStreams';
import { useLoad } from '../hooks/useLoad';
import { FALLBACK_POLL_MS, usePoll } from '../hooks/usePoll';
import { describeLoadError, sentence } from '../lib/errors';
import { formatBytes, formatDateTime, formatPercent, formatRelative, formatUptime } from '../lib/format';

function useNow(intervalMs = 10_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(t);
  }, [intervalMs]);
  return now;
}

function LiveIndicator({ state }: { state: LiveState }) {
  const live = state === 'live';
  return (
    <span
      className={`inline-flex items-center gap-2 rounded-full px-3 py-1 text-xs font-medium ring-1 ring-inset ${
        live ? 'bg-emerald-50 text-emerald-700 ring-emerald-600/20' : 'bg-slate-50 text-slate-500 ring-slate-400/30'
      }`}
      title={live ? 'Receiving live updates' : 'Live updates are not connected; retrying'}
    >
      <span
        className={`h-2 w-2 rounded-full ${live ? 'animate-pulse bg-emerald-500' : 'bg-slate-400'}`}
        aria-hidden="true"
      />
      {live ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
    </span>
  );
}

function SystemCards({ status }: { status: SystemStatus }) {
  const memPct = status.memory.total_bytes ? (status.memory.used_bytes / status.memory.total_bytes) * 100 : 0;
  const diskUsed = status.disk.total_bytes - status.disk.free_bytes;
  const diskPct = status.disk.total_bytes ? (diskUsed / status.disk.total_bytes) * 100 : 0;
  const load = status.load_average?.length ? status.load_average.map((l) => l.toFixed(2)).join(' · ') : null;
  return (
    <div className="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-3">
      <div className="card p-5">
        <p className="text-xs font-semibold uppercase tracking-wide text-slate-500">CPU</p>
        <p className="mt-2 text-2xl font-semibold tracking-tight">{formatPercent(status.cpu_percent)}</p>
        <Meter value={status.cpu_percent} label="CPU usage" />
        {load && <p className="mt-2 text-xs text-slate-500">Load average {load}</p>}
      </div>
      <div className="card p-5">
        <p className="text-xs font-semibold uppercase tracking-wide text-slate-500">Memory</p>
        <p className="mt-2 text-2xl font-semibold tracking-tight">
          {formatBytes(status.memory.used_bytes)}{' '}
          <span className="text-sm font-normal text-slate-500">of {formatBytes(status.memory.total_bytes)}</span>
        </p>
        <Meter value={memPct} label="Memory usage" />
        <p className="mt-2 text-xs text-slate-500">VistterStream uses {formatBytes(status.memory.process_rss_bytes)}</p>
      </div>
      <div className="card p-5">
        <p className="text-xs font-semibold uppercase tracking-wide text-slate-500">Disk</p>
        <p className="mt-2 text-2xl font-semibold tracking-tight">
          {formatBytes(status.disk.free_bytes)}{' '}
          <span className="text-sm font-normal text-slate-500">free of {formatBytes(status.disk.total_bytes)}</span>
        </p>
        <Meter value={diskPct} label="Disk usage" />
        <p className="mt-2 truncate text-xs text-slate-500" title={status.disk.path}>
          {status.disk.path}
        </p>
      </div>
      <Stat
        label="Temperature"
        value={
          status.temperature_c === null || status.temperature_c === undefined
            ? 'Not available'
            : `${status.temperature_c.toFixed(1)} °C`
        }
        sub={
          status.temperature_c == null
            ? 'No sensor found on this machine'
            : status.temperature_c > 75
              ? 'Running hot'
              : 'Normal'
        }
      />
      <Stat label="Uptime" value={formatUptime(status.uptime_s)} sub="Since the appliance started" />
      <Stat
        label="Versions"
        value={<span className="text-lg">VistterStream {status.version}</span>}
        sub={status.ffmpeg_version ? `FFmpeg ${status.ffmpeg_version}` : 'FFmpeg not found'}
      />
    </div>
  );
}

function StreamsCard({ streams }: { streams: Stream[] }) {
  const total = streams.length;
  const started = streams.filter((s) => s.status.state !== 'stopped');
  const onAir = started.filter((s) => s.status.state === 'running' || s.status.state === 'degraded');
  const troubled = started.filter((s) => s.status.state === 'reconnecting' || s.status.state === 'degraded');
  return (
    <Link
      to="/streams"
      className="card flex flex-wrap items-center justify-between gap-4 p-5 transition hover:shadow-md focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
      data-testid="streams-summary"
    >
      <div>
        <p className="text-xs font-semibold uppercase tracking-wide text-slate-500">Streams</p>
        <p className="mt-2 text-2xl font-semibold tracking-tight text-slate-900">
          {total === 0 ? (
            'None'
          ) : (
            <>
              {onAir.length} <span className="text-sm font-normal text-slate-500">of {total} running</span>
            </>
          )}
        </p>
        <p className="mt-1 text-xs text-slate-500">
          {total === 0
            ? 'No streams yet: send a camera to YouTube, Facebook, Twitch or your own server.'
            : troubled.length > 0
              ? `${troubled.length} with problems: ${troubled.map((s) => s.name).join(', ')}`
              : started.length > onAir.length
                ? 'Starting…'
                : onAir.length > 0
                  ? 'Every started stream is on air.'
                  : 'Nothing is on air.'}
        </p>
      </div>
      <span className="text-sm font-medium text-sky-700">{total === 0 ? 'Create a stream →' : 'Manage streams →'}</span>
    </Link>
  );
}

function CameraTile({ camera, health, now }: { camera: Camera; health?: CameraHealth; now: number }) {
  const state = camera.enabled === false ? 'disabled' : (health?.state ?? 'unknown');
  // Live at once: the hub shares the camera's one connection among every viewer, so a tile costs
  // the appliance no camera connection of its own. A disabled camera is not contacted at all.
  return (
    <Link
      to={`/cameras/${camera.id}`}
      className="card group overflow-hidden transition hover:shadow-md focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
      data-testid="camera-tile"
    >
      {camera.enabled !== false ? (
        <LivePlayer cameraId={camera.id} alt={`Live view of ${camera.name}`} className="aspect-video" />
      ) : (
        <div className="flex aspect-video flex-col items-center justify-center gap-2 bg-slate-900 text-xs text-slate-400">
          <CameraIcon className="h-8 w-8" />
          Disabled: not connected
        </div>
      )}
      <div className="flex items-start justify-between gap-3 p-4">
        <div className="min-w-0">
          <p className="truncate font-medium text-slate-900 group-hover:text-sky-700">{camera.name}</p>
          <p className="mt-0.5 text-xs text-slate-500" title={formatDateTime(health?.last_seen)}>
            Last seen {formatRelative(health?.last_seen, now)}
          </p>
        </div>
        <StatusBadge state={state} />
      </div>
      {health?.last_error && state !== 'online' && (
        <p
          className="truncate border-t border-slate-100 px-4 py-2 text-xs text-red-600"
          title={sentence(health.last_error)}
        >
          {sentence(health.last_error)}
        </p>
      )}
    </Link>
  );
}

export default function Dashboard() {
  const now = useNow();
  const status = useLoad(() => api.status(), []);
  const cameras = useLoad(() => api.listCameras(), []);
  const streams = useLiveStreams();
  const { health } = useCameraHealth();

  const { setData: setStatus, reload: reloadStatus } = status;
  const reloadCameras = cameras.reload;
  const live = useEvents(
    {
      status: (data) => {
        if (data && typeof data === 'object' && 'uptime_s' in data) setStatus(data as SystemStatus);
      },
      camera_changed: () => void reloadCameras(),
    },
    { onResync: () => void reloadCameras() },
  );

  // The status comes every 5 s on the event stream; without it, poll so the cards do not freeze.
  const statusMissing = status.error instanceof ApiError && status.error.notAvailable;
  usePoll(reloadStatus, FALLBACK_POLL_MS, live !== 'live' && !statusMissing);

  return (
    <>
      <PageHeader
        title="Dashboard"
        description="Every camera live, then the health of the appliance."
        actions={<LiveIndicator state={live} />}
      />

      <section aria-labelledby="cameras-heading" className="mb-10">
        <div className="mb-4 flex items-center justify-between">
          <h2 id="cameras-heading" className="text-lg font-semibold">
            Cameras
          </h2>
          {cameras.data && cameras.data.length > 0 && (
            <Link
              to="/cameras"
              className="inline-flex min-h-11 items-center text-sm font-medium text-sky-700 hover:text-sky-800"
            >
              Manage cameras →
            </Link>
          )}
        </div>
        {cameras.data === undefined && cameras.loading ? (
          <LoadingState label="Loading cameras…" />
        ) : cameras.error && !cameras.data ? (
          <Alert>{describeLoadError(cameras.error)}</Alert>
        ) : cameras.data && cameras.data.length === 0 ? (
          <EmptyState
            icon={<CameraIcon />}
            title="No cameras yet"
            description="Add your first IP camera to see its picture and health here."
            action={
              <Link to="/cameras/new" className="min-h-11 btn-primary">
                Add a camera
              </Link>
            }
          />
        ) : (
          <div className="grid grid-cols-1 gap-4 sm:grid-cols-2 xl:grid-cols-3">
            {cameras.data?.map((c) => (
              <CameraTile key={c.id} camera={c} health={health[c.id]} now={now} />
            ))}
          </div>
        )}
      </section>
      <section aria-labelledby="system-heading" className="mb-10">
        <h2 id="system-heading" className="mb-4 text-lg font-semibold">
          System
        </h2>
        {status.data ? (
          <SystemCards status={status.data} />
        ) : status.loading ? (
          <LoadingState label="Loading system status…" />
        ) : (
          <div className="card p-5" data-testid="status-unavailable">
            <p className="text-sm font-medium text-slate-700">System status not available</p>
            <p className="mt-1 text-sm text-slate-500">
              {statusMissing ? 'This appliance does not report system metrics yet.' : describeLoadError(status.error)}
            </p>
          </div>
        )}
      </section>

      {streams.data && (
        <section aria-label="Streams" className="mb-10">
          <StreamsCard streams={streams.data} />
        </section>
      )}

      <section aria-label="VistterStudio link" className="mb-10">
        <StudioLinkCard />
      </section>
    </>
  );
}
