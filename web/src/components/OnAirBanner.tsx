// Says in words whether anything is on air (programs, streams, the timeline driving a program):
// a red banner naming what goes out and where, or a calm "Nothing is on air".

import type { OnAirLine } from '../lib/onAir';

export default function OnAirBanner({ lines, loading = false }: { lines: OnAirLine[]; loading?: boolean }) {
  if (loading) return null;
  const live = lines.length > 0;
  return (
    <div
      role="status"
      data-testid="on-air-banner"
      data-on-air={live ? 'true' : 'false'}
      className={`mb-6 flex items-start gap-3 rounded-lg border px-4 py-3 text-sm ${
        live ? 'border-red-200 bg-red-50 text-red-900' : 'border-slate-200 bg-slate-50 text-slate-700'
      }`}
    >
      <span
        className={`mt-0.5 shrink-0 rounded px-1.5 py-0.5 text-xs font-bold uppercase tracking-wide ${
          live ? 'bg-red-600 text-white' : 'bg-slate-300 text-slate-700'
        }`}
      >
        {live ? 'On air' : 'Off air'}
      </span>
      {live ? (
        <ul className="min-w-0 space-y-0.5">
          {lines.map((l) => (
            <li key={l.key} className="break-words">
              {l.text}
            </li>
          ))}
        </ul>
      ) : (
        <p>Nothing is on air: no program or stream is running.</p>
      )}
    </div>
  );
}
