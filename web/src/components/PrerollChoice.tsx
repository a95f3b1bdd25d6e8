// The program's pre-roll choice on the Program page: instant takes (pre-rolled cameras stay
// decoded, a take of one is on air at the next frame) or economy (only the on-air camera is
// decoded, takes start from the camera's keyframe cache). Each option shows what it costs on
// this appliance as the running program measures it (a decoder's CPU, the last take of each
// kind), never an estimate. A choice is saved at once, and applied live to a running program.

import { useState } from 'react';
import { request } from '../api/client';
import type { components } from '../api/schema';
import type { Program } from '../api';
import { Alert } from './ui';

type S = components['schemas'];
export type Preroll = S['Preroll'];

const seg = (id: number) => encodeURIComponent(String(id));

export const prerollApi = {
  set: (p: number, preroll: Preroll) => request<Program>('PUT', `/api/programs/${seg(p)}/preroll-mode`, { preroll }),
};

const NOT_MEASURED = 'not measured yet';

/** A measured figure, or "not measured yet". */
export function measured(v: number | null | undefined, unit: string, digits = 0): string {
  return v == null || !Number.isFinite(v) ? NOT_MEASURED : `${v.toFixed(digits)} ${unit}`;
}

/** What each option costs here, in words. */
export function costTexts(cost: S['PrerollStatus'] | null | undefined): Record<Preroll, string> {
  const cpu = cost?.decoder_cpu_pct;
  const perCamera =
    cpu == null
      ? `each pre-rolled camera’s cost is ${NOT_MEASURED}`
      : `each pre-rolled camera costs ${cpu.toFixed(1)} % of a core here`;
  return {
    instant: `${perCamera}; last take from pre-roll: ${measured(cost?.last_pre_rolled_take_ms, 'ms')}`,
    economy: `only the on-air camera is decoded; last take from the keyframe cache: ${measured(cost?.last_cached_take_ms, 'ms')}`,
  };
}

const OPTIONS: { value: Preroll; label: string }[] = [
  { value: 'instant', label: 'Instant takes' },
  { value: 'economy', label: 'Economy' },
];

export default function PrerollChoice({
  program,
  onChange,
  className = '',
}: {
  program: Program;
  onChange: (p: Program) => void;
  /** Placement in the page's layout. */
  className?: string;
}) {
  const [saving, setSaving] = useState<Preroll | null>(null);
  const [error, setError] = useState<string | null>(null);
  const texts = costTexts(program.live?.preroll);
  const running = program.live != null;
  const current = saving ?? program.preroll;

  const choose = async (value: Preroll) => {
    if (value === program.preroll || saving) return;
    setError(null);
    setSaving(value);
    try {
      onChange(await prerollApi.set(program.id, value));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSaving(null);
    }
  };

  return (
    <section
      className={`card p-4 ${className}`}
      data-testid="preroll-choice"
      aria-labelledby={`preroll-title-${program.id}`}
    >
      <h3 id={`preroll-title-${program.id}`} className="text-sm font-semibold">
        Takes and CPU
      </h3>
      <p className="mb-2 text-xs text-slate-600">
        Measured on this appliance while the program runs
        {running ? '' : ' (start the program to measure)'}. A change applies at once{running ? ', on air' : ''}.
      </p>
      {error && <Alert>{error}</Alert>}
      <fieldset disabled={saving !== null} className="grid gap-2 sm:grid-cols-2">
        <legend className="sr-only">Pre-roll</legend>
        {OPTIONS.map((o) => {
          const id = `preroll-${program.id}-${o.value}`;
          const checked = current === o.value;
          return (
            <label
              key={o.value}
              htmlFor={id}
              data-testid={`preroll-${o.value}`}
              className={`flex min-h-11 cursor-pointer items-start gap-3 rounded-md border p-3 text-sm ${
                checked ? 'border-sky-500 bg-sky-50' : 'border-slate-200 hover:bg-slate-50'
              }`}
            >
              <input
                id={id}
                type="radio"
                name={`preroll-${program.id}`}
                value={o.value}
                checked={checked}
                onChange={() => void choose(o.value)}
                className="mt-0.5 h-5 w-5 shrink-0 border-slate-300 text-sky-600 focus:ring-sky-500"
              />
              <span>
                <span className="font-semibold text-slate-900">{o.label}</span>
                <span className="block text-xs text-slate-700" data-testid={`preroll-${o.value}-cost`}>
                  {texts[o.value]}
                </span>
              </span>
            </label>
          );
        })}
      </fieldset>
    </section>
  );
}
