// The mixer's Take (cut) button with the progress of a take in flight, and the explanation of a
// click that could not be acted on (a take already on its way), so no click is silently lost.

import { useEffect, useState } from 'react';

export interface Flight {
  cameraId: number;
  name: string;
  /** Date.now() when the take was asked for; null for a take seen pending (started elsewhere). */
  since: number | null;
  /** `sending`: the request is on its way (a preset move happens inside it); `waiting`: the
   * program took it and waits for the camera's first picture. */
  phase: 'sending' | 'waiting';
  withPreset: boolean;
}

function useTicker(active: boolean, ms = 200): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [active, ms]);
  return now;
}

export function flightText(f: Flight, held: boolean): string {
  if (f.phase === 'sending') return f.withPreset ? `Moving ${f.name} to its preset…` : `Taking ${f.name}…`;
  return held ? `Moving ${f.name} to its preset…` : `Waiting for the first picture of ${f.name}…`;
}

export default function TakeBar({
  previewName,
  canTake,
  running,
  flight,
  held,
  notice,
  onTake,
  onSlate,
  slateDisabled,
  slateTitle,
}: {
  previewName: string | null;
  canTake: boolean;
  running: boolean;
  flight: Flight | null;
  held: boolean;
  notice: string | null;
  onTake: () => void;
  onSlate: () => void;
  slateDisabled: boolean;
  slateTitle: string;
}) {
  const now = useTicker(flight !== null);
  const elapsed = flight?.since != null ? Math.max(0, (now - flight.since) / 1000) : null;
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-stretch gap-3">
        <button
          type="button"
          className={`btn min-h-14 min-w-0 flex-1 basis-48 text-lg font-bold tracking-wide ${
            flight ? 'bg-amber-700 text-white hover:bg-amber-800' : 'bg-red-600 text-white hover:bg-red-700'
          }`}
          disabled={!running || !canTake}
          onClick={onTake}
          title="Put Preview on air"
          aria-keyshortcuts="Space"
          data-testid="take-button"
        >
          {flight ? 'Taking…' : previewName ? `Take ▸ ${previewName}` : 'Take ▸'}
          <kbd className="ml-2 hidden rounded border border-white/40 px-1.5 text-xs font-medium sm:inline">Space</kbd>
        </button>
        <button
          type="button"
          className="btn-secondary min-h-14 px-5"
          disabled={slateDisabled}
          onClick={onSlate}
          aria-label="Cut to the slate"
          title={slateTitle}
        >
          Slate
        </button>
      </div>
      {flight && (
        <div
          role="status"
          data-testid="take-progress"
          className="rounded-lg border border-amber-200 bg-amber-50 px-3 py-2"
        >
          <div className="flex items-center justify-between gap-2 text-sm text-amber-900">
            <span className="min-w-0 truncate">{flightText(flight, held)}</span>
            {elapsed !== null && <span className="shrink-0 tabular-nums">{elapsed.toFixed(1)} s</span>}
          </div>
          <div
            className="mt-1.5 h-1.5 overflow-hidden rounded-full bg-amber-100"
            role="progressbar"
            aria-label={`Take of ${flight.name} in progress`}
            aria-valuetext={elapsed !== null ? `${elapsed.toFixed(1)} seconds` : 'in progress'}
          >
            <div className="h-full w-1/3 animate-pulse rounded-full bg-amber-500" />
          </div>
        </div>
      )}
      {notice && (
        <p
          role="alert"
          data-testid="take-notice"
          className="rounded-lg border border-sky-200 bg-sky-50 px-3 py-2 text-sm text-sky-900"
        >
          {notice}
        </p>
      )}
      {!running && <p className="text-xs text-slate-600">Start the program to take cameras on air.</p>}
      {running && (
        <p className="hidden text-xs text-slate-600 sm:block">
          Click a picture to put it in Preview; Take (or the space bar) puts Preview on air; keys 1–9 take that camera
          directly.
        </p>
      )}
    </div>
  );
}
