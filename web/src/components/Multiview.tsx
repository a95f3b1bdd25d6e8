// The multiview of a vision mixer: every camera as a live tile (one hub-backed WebSocket per
// camera) with its name, online state, an optional audio meter and a tally — red on air (Program),
// green in Preview or pre-rolled, amber while a take waits for its picture. Clicking the picture
// puts the camera in Preview; its Take button puts it on air directly.

import { useState, type ReactNode } from 'react';
import type { Camera, CameraHealth, Preset } from '../api';
import LivePlayer from './LivePlayer';
import { CameraIcon } from './ui';

export type Tally = 'program' | 'preview' | 'pending' | 'none';

const TALLY_RING: Record<Tally, string> = {
  program: 'border-red-600 ring-4 ring-red-600',
  pending: 'border-amber-400 ring-4 ring-amber-400',
  preview: 'border-emerald-500 ring-4 ring-emerald-500',
  none: '',
};

const TALLY_LABEL: Record<Tally, string | null> = {
  program: 'On air',
  pending: 'Taking…',
  preview: 'Preview',
  none: null,
};

const TALLY_BADGE: Record<Tally, string> = {
  program: 'bg-red-600',
  pending: 'bg-amber-700',
  preview: 'bg-emerald-700',
  none: 'bg-slate-700',
};

function onlineState(camera: Camera, health?: CameraHealth): { label: string; dot: string } {
  if (!camera.enabled) return { label: 'Disabled', dot: 'bg-slate-400' };
  switch (health?.state) {
    case 'online':
      return { label: 'Online', dot: 'bg-emerald-500' };
    case 'degraded':
      return { label: 'Degraded', dot: 'bg-amber-500' };
    case 'offline':
      return { label: 'Offline', dot: 'bg-red-500' };
    default:
      return { label: 'Checking…', dot: 'bg-slate-400' };
  }
}

export interface TileProps {
  camera: Camera;
  /** 1-based position: the number key that takes it. */
  index: number;
  health?: CameraHealth;
  tally: Tally;
  /** Decoded by the program already (a take is instant). */
  prerolled: boolean;
  /** Shown in the Preview pane. */
  previewed: boolean;
  presets: Preset[];
  /** The program runs (takes are possible). */
  running: boolean;
  onPreview: (cameraId: number) => void;
  onTake: (cameraId: number, presetId?: number) => void;
  onPreroll: (cameraId: number) => void;
  /** The camera's audio level meter, when the appliance reports levels (none is drawn otherwise). */
  meter?: ReactNode;
}

export function MultiviewTile({
  camera,
  index,
  health,
  tally,
  prerolled,
  previewed,
  presets,
  running,
  onPreview,
  onTake,
  onPreroll,
  meter,
}: TileProps) {
  const [preset, setPreset] = useState('');
  const state = onlineState(camera, health);
  const label = TALLY_LABEL[tally] ?? (prerolled ? 'Pre-rolled' : null);
  const ring = tally === 'none' && prerolled ? TALLY_RING.preview : TALLY_RING[tally];
  return (
    <div
      data-testid="take-card"
      data-camera-id={camera.id}
      data-on-air={tally === 'program' ? 'true' : 'false'}
      data-preview={previewed ? 'true' : 'false'}
      data-tally={tally === 'none' && prerolled ? 'preroll' : tally}
      className={`card flex min-w-0 flex-col overflow-hidden ${ring}`}
    >
      <div className="relative aspect-video w-full bg-slate-900">
        {camera.enabled ? (
          <LivePlayer
            cameraId={camera.id}
            alt={`Live view of ${camera.name}`}
            className="absolute inset-0 h-full w-full"
            intervalMs={5000}
            liveBadge={false}
            videoTestId="tile-video"
          />
        ) : (
          // A disabled camera is not contacted, not even for a picture.
          <div className="absolute inset-0 flex flex-col items-center justify-center gap-1 text-xs text-slate-400">
            <CameraIcon className="h-7 w-7" />
            Disabled: enable it on the Cameras page
          </div>
        )}
        <button
          type="button"
          className="absolute inset-0 h-full w-full cursor-pointer focus:outline-none focus-visible:ring-4 focus-visible:ring-inset focus-visible:ring-sky-400"
          onClick={() => onPreview(camera.id)}
          aria-label={`Preview ${camera.name}`}
          aria-pressed={previewed}
          title="Put in Preview"
        />
        <span
          className="pointer-events-none absolute left-1.5 top-1.5 rounded bg-slate-900/80 px-1.5 py-0.5 text-xs font-bold text-white"
          aria-hidden="true"
        >
          {index <= 9 ? index : ''}
        </span>
        {label && (
          <span
            className={`pointer-events-none absolute right-1.5 top-1.5 rounded px-1.5 py-0.5 text-xs font-bold uppercase tracking-wide text-white ${TALLY_BADGE[tally === 'none' ? 'preview' : tally]}`}
            data-testid="tally"
          >
            {label}
          </span>
        )}
      </div>
      <div className="flex flex-col gap-2 p-2">
        <div className="flex min-w-0 items-center justify-between gap-2">
          <span className="truncate text-sm font-semibold text-slate-900" title={camera.name}>
            {camera.name}
          </span>
          <span className="flex shrink-0 items-center gap-1 text-xs text-slate-600" data-testid="tile-state">
            <span className={`h-2 w-2 rounded-full ${state.dot}`} aria-hidden="true" />
            {state.label}
          </span>
        </div>
        {meter}
        <div className="flex gap-2">
          <button
            type="button"
            className={`btn min-h-11 flex-1 text-sm font-semibold ${
              tally === 'program'
                ? 'bg-red-600 text-white hover:bg-red-700'
                : 'bg-slate-800 text-white hover:bg-slate-700'
            }`}
            disabled={!running || !camera.enabled}
            onClick={() => onTake(camera.id, preset ? Number(preset) : undefined)}
            aria-label={`Take ${camera.name}`}
            title={`Put ${camera.name} on air (key ${index})`}
          >
            Take
          </button>
          <button
            type="button"
            className="btn-secondary min-h-11 px-3 text-xs"
            disabled={!running || !camera.enabled}
            onClick={() => onPreroll(camera.id)}
            aria-label={`Preroll ${camera.name}`}
            title="Start decoding it now, so its take is instant"
          >
            Preroll
          </button>
        </div>
        {camera.type === 'PTZ' && presets.length > 0 && (
          <select
            className="input min-h-11 py-1 text-xs"
            aria-label={`Preset for ${camera.name}`}
            value={preset}
            onChange={(e) => setPreset(e.target.value)}
          >
            <option value="">Where it is now</option>
            {presets.map((p) => (
              <option key={p.id} value={String(p.id)}>
                at {p.name}
              </option>
            ))}
          </select>
        )}
      </div>
    </div>
  );
}
