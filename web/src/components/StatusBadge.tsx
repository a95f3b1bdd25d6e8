// Colored pill for a camera's health state.

import type { HealthState } from '../api';

const STYLES: Record<HealthState, { label: string; cls: string; dot: string }> = {
  online: { label: 'Online', cls: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20', dot: 'bg-emerald-500' },
  offline: { label: 'Offline', cls: 'bg-red-50 text-red-700 ring-red-600/20', dot: 'bg-red-500' },
  degraded: { label: 'Degraded', cls: 'bg-amber-50 text-amber-800 ring-amber-600/20', dot: 'bg-amber-500' },
  disabled: { label: 'Disabled', cls: 'bg-slate-100 text-slate-600 ring-slate-500/20', dot: 'bg-slate-400' },
  unknown: { label: 'Unknown', cls: 'bg-slate-50 text-slate-600 ring-slate-500/20', dot: 'bg-slate-400' },
};

export default function StatusBadge({ state }: { state: HealthState | null | undefined }) {
  const s = STYLES[state ?? 'unknown'] ?? STYLES.unknown;
  return (
    <span
      className={`inline-flex items-center gap-1.5 rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset ${s.cls}`}
      data-testid="status-badge"
    >
      <span className={`h-1.5 w-1.5 rounded-full ${s.dot}`} aria-hidden="true" />
      {s.label}
    </span>
  );
}
