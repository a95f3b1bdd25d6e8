// Colored pill for a camera's health state; with `cameraId`, an offline or degraded pill is a
// link to the camera's events (why it went down, and since when).

import { Link } from 'react-router-dom';
import type { HealthState } from '../api';
import { eventsHref } from './EventsLink';

const STYLES: Record<HealthState, { label: string; cls: string; dot: string }> = {
  online: { label: 'Online', cls: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20', dot: 'bg-emerald-500' },
  offline: { label: 'Offline', cls: 'bg-red-50 text-red-700 ring-red-600/20', dot: 'bg-red-500' },
  degraded: { label: 'Degraded', cls: 'bg-amber-50 text-amber-800 ring-amber-600/20', dot: 'bg-amber-500' },
  disabled: { label: 'Disabled', cls: 'bg-slate-100 text-slate-600 ring-slate-500/20', dot: 'bg-slate-400' },
  unknown: { label: 'Unknown', cls: 'bg-slate-50 text-slate-600 ring-slate-500/20', dot: 'bg-slate-400' },
};

export default function StatusBadge({
  state,
  cameraId,
}: {
  state: HealthState | null | undefined;
  /** makes a failing state a link to this camera's events */
  cameraId?: number;
}) {
  const s = STYLES[state ?? 'unknown'] ?? STYLES.unknown;
  const pill = `inline-flex items-center gap-1.5 rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset ${s.cls}`;
  const inner = (
    <>
      <span className={`h-1.5 w-1.5 rounded-full ${s.dot}`} aria-hidden="true" />
      {s.label}
    </>
  );
  if (cameraId !== undefined && (state === 'offline' || state === 'degraded')) {
    return (
      <Link
        to={eventsHref('camera', cameraId)}
        className={`${pill} min-h-11 underline-offset-2 hover:underline md:min-h-0`}
        data-testid="status-badge"
        title="See why, in the camera's events"
        onClick={(e) => e.stopPropagation()}
      >
        {inner}
      </Link>
    );
  }
  return (
    <span className={pill} data-testid="status-badge">
      {inner}
    </span>
  );
}
