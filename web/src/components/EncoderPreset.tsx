// A program's x264 preset: the choice (auto, or a preset by hand) in the settings dialog, and
// what the last start used in words — with the speed measured on this appliance, so an operator
// sees why a small machine streams at `ultrafast` and what it would cost to ask for more.

import type { Program } from '../api';

export type EncoderPresetView = Program['encoder_preset'];

/** Fastest first, as the appliance accepts them. */
export const PRESET_OPTIONS: { value: string; label: string }[] = [
  { value: 'auto', label: 'Automatic' },
  { value: 'ultrafast', label: 'ultrafast (least CPU)' },
  { value: 'superfast', label: 'superfast' },
  { value: 'veryfast', label: 'veryfast' },
  { value: 'faster', label: 'faster' },
  { value: 'fast', label: 'fast' },
  { value: 'medium', label: 'medium (best picture, most CPU)' },
];

/** The preset a program uses, in words: "auto → superfast (2.1× real time at 1920x1080 on this
 * appliance)". */
export function describeEncoderPreset(p: EncoderPresetView | null | undefined): string {
  if (!p) return 'auto';
  if (p.encoder && p.encoder !== 'libx264') return `not used: ${p.encoder} is a hardware encoder`;
  if (p.setting !== 'auto') {
    return p.resolved ? `${p.resolved}, set by hand` : `${p.setting}, set by hand`;
  }
  if (!p.resolved) return 'auto: measured on this appliance when the program starts';
  if (p.speed == null) return `auto → ${p.resolved} (not measured: the test encode could not run)`;
  const size = p.measured_at_size ? ` at ${p.measured_at_size}` : '';
  const figure = `${p.speed.toFixed(1)}× real time${size} on this appliance`;
  if (p.holds_real_time === false) {
    return `auto → ${p.resolved} (${figure}: no preset keeps up with room to spare; frames may drop — try a smaller size or frame rate)`;
  }
  return `auto → ${p.resolved} (${figure})`;
}

/** The select of the settings dialog, with the current program's choice in words below it. */
export default function EncoderPresetField({
  value,
  onChange,
  current,
  error,
}: {
  value: string;
  onChange: (value: string) => void;
  current?: EncoderPresetView;
  error?: string;
}) {
  const hint =
    current && current.setting === value && current.resolved
      ? `Last start: ${describeEncoderPreset(current)}.`
      : value === 'auto'
        ? 'Measured here when the program starts: the slowest preset at 1.5× real time or more at its size.'
        : 'Used as set. Slower presets look better at the same bitrate but need more CPU.';
  return (
    <div>
      <label htmlFor="program-encoder-preset" className="label">
        x264 preset
      </label>
      <select
        id="program-encoder-preset"
        className="input"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby="program-encoder-preset-hint"
      >
        {PRESET_OPTIONS.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {error ? (
        <p className="field-error" id="program-encoder-preset-hint">
          {error}
        </p>
      ) : (
        <p className="hint" id="program-encoder-preset-hint">
          {hint}
        </p>
      )}
    </div>
  );
}

/** One line of the program's Output card: the preset its encoder runs with. */
export function EncoderPresetMetric({ preset }: { preset: EncoderPresetView }) {
  return (
    <div className="col-span-2" data-testid="encoder-preset">
      <dt className="text-xs uppercase tracking-wide text-slate-500">x264 preset</dt>
      <dd className={`text-sm font-semibold ${preset.holds_real_time === false ? 'text-amber-800' : 'text-slate-900'}`}>
        {describeEncoderPreset(preset)}
      </dd>
    </div>
  );
}
