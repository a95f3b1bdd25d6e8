// The camera's hub session: its one connection (state, uptime, bitrate, frame rate, keyframe
// interval, losses, reconnects, last error) and who reads it. Loaded once, then kept current by
// `camera_session` events (every 2 s and at each state change).

import type { ReactNode } from 'react';
import { api, type CameraSession, type SessionState } from '../api';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { sentence } from '../lib/errors';
import { formatUptime } from '../lib/format';
import { formatBitrate } from '../lib/streaming';

const STATES: Record<SessionState, { label: string; cls: string }> = {
  playing: { label: 'Connected', cls: 'text-emerald-700' },
  connecting: { label: 'Connecting…', cls: 'text-sky-700' },
  backoff: { label: 'Reconnecting', cls: 'text-amber-700' },
  stopped: { label: 'Not connected', cls: 'text-slate-500' },
};

const CONSUMERS: [keyof CameraSession['consumers'], string][] = [
  ['program', 'program'],
  ['preview', 'preview'],
  ['copy', 'stream output'],
  ['snapshot', 'snapshot'],
  ['other', 'other'],
];

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="flex justify-between gap-4 py-1.5 text-sm">
      <dt className="text-slate-500">{label}</dt>
      <dd className="text-right tabular-nums text-slate-900">{children}</dd>
    </div>
  );
}

/** "2 previews, 1 stream output" from the consumer counts; "nobody" when there are none. */
export function describeConsumers(c: CameraSession['consumers']): string {
  const parts = CONSUMERS.filter(([k]) => c[k] > 0).map(([k, name]) => `${c[k]} ${name}${c[k] === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : 'nobody';
}

export default function SessionCard({ cameraId }: { cameraId: number }) {
  const session = useLoad(() => api.cameraSession(cameraId), [cameraId]);
  const { setData, reload } = session;
  useEvents(
    {
      camera_session: (data) => {
        const s = data as CameraSession;
        if (s?.camera_id === cameraId) setData(s);
      },
    },
    { onResync: () => void reload() },
  );
  const s = session.data;
  if (!s) return null;
  const st = STATES[s.state] ?? STATES.stopped;
  const playing = s.state === 'playing';
  return (
    <div className="card p-5" data-testid="camera-session">
      <h2 className="text-base font-semibold">Connection</h2>
      <p className="mt-0.5 text-xs text-slate-500">
        One session to the camera, shared by previews, streams, snapshots and programs.
      </p>
      <dl className="mt-2 divide-y divide-slate-100">
        <Row label="State">
          <span className={st.cls} data-testid="session-state">
            {st.label}
            {playing && s.transport ? ` (${s.transport === 'rtsp' ? 'RTSP' : 'FFmpeg pull'})` : ''}
          </span>
        </Row>
        {playing && <Row label="Uptime">{formatUptime(s.uptime_s)}</Row>}
        {playing && <Row label="Bitrate">{formatBitrate(s.bitrate_bps / 1000)}</Row>}
        {playing && <Row label="Frame rate">{s.fps.toFixed(1)} fps</Row>}
        {s.gop_seconds != null && (
          <Row label="Keyframe interval">
            {s.gop_seconds.toFixed(1)} s{s.gop_frames != null ? ` (${s.gop_frames} frames)` : ''}
          </Row>
        )}
        <Row label="Packets lost">
          {s.packets_lost} of {s.packets_received + s.packets_lost}
        </Row>
        <Row label="Reconnects">{s.reconnects}</Row>
        <Row label="Used by">
          <span data-testid="session-consumers">{describeConsumers(s.consumers)}</span>
        </Row>
        {s.last_error && (
          <Row label="Last error">
            <span className={playing ? 'text-slate-500' : 'text-red-600'}>{sentence(s.last_error)}</span>
          </Row>
        )}
      </dl>
    </div>
  );
}
