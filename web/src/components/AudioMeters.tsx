// The program's sound on the Program page: level meters (peak and EBU R128 loudness) for the
// program and for each decoded camera, the master gain, each camera's on/off and gain, and the
// audio bed (upload, choose, gain, under or instead of the cameras). Levels arrive with the
// program's live status (`program_status` events, every second); settings apply at once to the
// running program without restarting its encoder.

import { useEffect, useRef, useState } from 'react';
import { request } from '../api/client';
import type { components } from '../api/schema';
import type { Camera, Program } from '../api';
import { Alert } from './ui';

type S = components['schemas'];
export type CameraAudio = S['CameraAudio'];
export type ProgramAudio = S['ProgramAudio'];
export type AudioBed = S['AudioBedView'];
export type LevelReading = S['LevelReading'];

const seg = (id: number) => encodeURIComponent(String(id));

export const audioApi = {
  programAudio: (p: number) => request<ProgramAudio>('GET', `/api/programs/${seg(p)}/audio`),
  setProgramAudio: (p: number, a: ProgramAudio) => request<ProgramAudio>('PUT', `/api/programs/${seg(p)}/audio`, a),
  cameraAudio: (c: number) => request<CameraAudio>('GET', `/api/cameras/${seg(c)}/audio`),
  setCameraAudio: (c: number, a: CameraAudio) => request<CameraAudio>('PUT', `/api/cameras/${seg(c)}/audio`, a),
  beds: () => request<AudioBed[]>('GET', '/api/audio/beds'),
  uploadBed: (file: File) =>
    request<AudioBed>('POST', `/api/audio/beds?name=${encodeURIComponent(file.name)}`, {
      raw: file,
      contentType: file.type.startsWith('audio/') ? file.type : 'application/octet-stream',
    }),
};

/** The meter's scale: −60 dBFS (empty) to 0 dBFS (full). */
const FLOOR_DB = -60;

/** Share of the bar for a level in dB (0 below the floor). */
export function barShare(db: number | null | undefined): number {
  if (db == null || !Number.isFinite(db)) return 0;
  return Math.max(0, Math.min(1, (db - FLOOR_DB) / -FLOOR_DB));
}

function dbText(v: number | null | undefined, unit: string): string {
  return v == null ? '—' : `${v.toFixed(1)} ${unit}`;
}

/** One horizontal meter: the peak as a bar (green, amber above −12 dBFS, red above −3), the
 * short-term loudness as a tick. */
export function LevelMeter({ level, label, testId }: { level?: LevelReading; label: string; testId?: string }) {
  const peak = level?.peak_dbfs ?? null;
  const st = level?.short_term_lufs ?? null;
  const color =
    peak == null ? 'bg-slate-300' : peak > -3 ? 'bg-red-500' : peak > -12 ? 'bg-amber-400' : 'bg-emerald-500';
  return (
    <div data-testid={testId} data-peak={peak ?? ''} className="min-w-0">
      <div
        className="relative h-2.5 w-full overflow-hidden rounded bg-slate-200"
        role="meter"
        aria-label={label}
        aria-valuemin={FLOOR_DB}
        aria-valuemax={0}
        aria-valuenow={peak ?? FLOOR_DB}
      >
        <div className={`h-full ${color}`} style={{ width: `${barShare(peak) * 100}%` }} />
        {st != null && (
          <div className="absolute top-0 h-full w-0.5 bg-slate-800" style={{ left: `${barShare(st) * 100}%` }} />
        )}
      </div>
      <div className="mt-0.5 flex justify-between text-[10px] text-slate-500">
        <span>peak {dbText(peak, 'dBFS')}</span>
        <span>{dbText(st, 'LUFS')} (3 s)</span>
      </div>
    </div>
  );
}

/** A gain slider that applies when let go (not at every pixel of a drag). */
function GainSlider({
  value,
  min = -30,
  max = 12,
  disabled,
  label,
  onCommit,
}: {
  value: number;
  min?: number;
  max?: number;
  disabled?: boolean;
  label: string;
  onCommit: (v: number) => void;
}) {
  const [v, setV] = useState(value);
  const dragging = useRef(false);
  useEffect(() => {
    if (!dragging.current) setV(value);
  }, [value]);
  const commit = () => {
    dragging.current = false;
    if (v !== value) onCommit(v);
  };
  return (
    <label className="flex items-center gap-2 text-xs">
      <input
        type="range"
        min={min}
        max={max}
        step={0.5}
        value={v}
        disabled={disabled}
        aria-label={label}
        className="w-28"
        onChange={(e) => {
          dragging.current = true;
          setV(Number(e.target.value));
        }}
        onMouseUp={commit}
        onTouchEnd={commit}
        onKeyUp={commit}
        onBlur={() => dragging.current && commit()}
      />
      <span className="w-14 tabular-nums">{v > 0 ? `+${v}` : v} dB</span>
    </label>
  );
}

export default function AudioMeters({ program, cameras }: { program: Program; cameras: Camera[] }) {
  const audio = program.live?.audio;
  const [mix, setMix] = useState<ProgramAudio | null>(null);
  const [beds, setBeds] = useState<AudioBed[]>([]);
  const [camAudio, setCamAudio] = useState<Record<number, CameraAudio>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const cameraIds = cameras.map((c) => c.id).join(',');

  useEffect(() => {
    let alive = true;
    Promise.all([audioApi.programAudio(program.id), audioApi.beds()])
      .then(([m, b]) => {
        if (!alive) return;
        setMix(m);
        setBeds(b);
      })
      .catch((e: Error) => alive && setError(e.message));
    return () => {
      alive = false;
    };
  }, [program.id]);

  useEffect(() => {
    let alive = true;
    const ids = cameraIds ? cameraIds.split(',').map(Number) : [];
    Promise.all(ids.map((id) => audioApi.cameraAudio(id).then((a) => [id, a] as const)))
      .then((list) => alive && setCamAudio(Object.fromEntries(list)))
      .catch((e: Error) => alive && setError(e.message));
    return () => {
      alive = false;
    };
  }, [cameraIds]);

  const run = async (fn: () => Promise<void>) => {
    setError(null);
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const saveMix = (next: ProgramAudio) =>
    run(async () => {
      setMix(next);
      setMix(await audioApi.setProgramAudio(program.id, next));
    });
  const saveCamera = (id: number, next: CameraAudio) =>
    run(async () => {
      setCamAudio((prev) => ({ ...prev, [id]: next }));
      const saved = await audioApi.setCameraAudio(id, next);
      setCamAudio((prev) => ({ ...prev, [id]: saved }));
    });
  const upload = (file: File) =>
    run(async () => {
      const bed = await audioApi.uploadBed(file);
      setBeds(await audioApi.beds());
      if (mix) {
        const next = { ...mix, bed_id: bed.id };
        setMix(await audioApi.setProgramAudio(program.id, next));
      }
    });

  const levelOf = (id: number) => audio?.sources.find((s) => s.id === id);
  const integrated = audio?.program.integrated_lufs;

  return (
    <section className="card p-4" data-testid="audio-meters" aria-label="Program audio">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h3 className="text-sm font-semibold">Audio</h3>
        <span className="text-xs text-slate-500" data-testid="audio-integrated">
          Integrated {integrated != null ? `${integrated.toFixed(1)} LUFS` : '—'}
          {audio && audio.limiter_db < -0.1 && (
            <span className="ml-2 font-semibold text-amber-700">limiting {audio.limiter_db.toFixed(1)} dB</span>
          )}
        </span>
      </div>
      {error && <Alert>{error}</Alert>}

      <div className="grid gap-4 lg:grid-cols-2">
        <div className="space-y-3">
          <div>
            <div className="mb-1 flex items-center justify-between text-xs">
              <span className="font-medium">Program</span>
              {mix && (
                <GainSlider
                  label="Master gain"
                  value={mix.master_gain_db}
                  disabled={busy}
                  onCommit={(v) => void saveMix({ ...mix, master_gain_db: v })}
                />
              )}
            </div>
            <LevelMeter level={audio?.program} label="Program level" testId="audio-meter-program" />
            {!audio && <p className="mt-1 text-xs text-slate-500">Start the program to see its levels.</p>}
          </div>

          {mix && (
            <div className="space-y-2 border-t border-slate-100 pt-3" data-testid="audio-bed">
              <div className="text-xs font-medium">Bed (looped audio file)</div>
              <div className="flex flex-wrap items-center gap-2 text-xs">
                <select
                  aria-label="Bed"
                  className="rounded border border-slate-300 px-2 py-1"
                  value={mix.bed_id ?? ''}
                  disabled={busy}
                  onChange={(e) => void saveMix({ ...mix, bed_id: e.target.value ? Number(e.target.value) : null })}
                >
                  <option value="">No bed</option>
                  {beds.map((b) => (
                    <option key={b.id} value={b.id}>
                      {b.name} ({b.seconds.toFixed(0)} s)
                    </option>
                  ))}
                </select>
                <select
                  aria-label="Bed mode"
                  className="rounded border border-slate-300 px-2 py-1"
                  value={mix.bed_mode}
                  disabled={busy || mix.bed_id == null}
                  onChange={(e) => void saveMix({ ...mix, bed_mode: e.target.value as ProgramAudio['bed_mode'] })}
                >
                  <option value="under">under the cameras</option>
                  <option value="instead">instead of the cameras</option>
                </select>
                <GainSlider
                  label="Bed gain"
                  value={mix.bed_gain_db ?? -12}
                  disabled={busy || mix.bed_id == null}
                  onCommit={(v) => void saveMix({ ...mix, bed_gain_db: v })}
                />
                <label className="btn-secondary cursor-pointer px-2 py-1 text-xs">
                  Upload…
                  <input
                    type="file"
                    accept="audio/*"
                    className="hidden"
                    aria-label="Upload a bed"
                    disabled={busy}
                    onChange={(e) => {
                      const f = e.target.files?.[0];
                      e.target.value = '';
                      if (f) void upload(f);
                    }}
                  />
                </label>
              </div>
              {audio?.bed && (
                <p className="text-xs text-slate-500">
                  Playing {audio.bed.name} ({audio.bed.mode === 'instead' ? 'instead of' : 'under'} the cameras)
                </p>
              )}
            </div>
          )}
        </div>

        <ul className="space-y-3" aria-label="Camera audio">
          {cameras.map((c) => {
            const s = levelOf(c.id);
            const a = camAudio[c.id];
            const onAir = audio?.on_air === c.id;
            return (
              <li key={c.id} data-testid="audio-camera" data-camera-id={c.id}>
                <div className="mb-1 flex flex-wrap items-center justify-between gap-2 text-xs">
                  <span className="font-medium">
                    {c.name}
                    {onAir && <span className="ml-1 rounded bg-red-600 px-1 text-[10px] text-white">ON AIR</span>}
                    {s && !s.has_audio && <span className="ml-1 text-slate-600">no audio</span>}
                    {s?.error && (
                      <span className="ml-1 text-red-600" title={s.error}>
                        audio not decodable
                      </span>
                    )}
                  </span>
                  {a && (
                    <span className="flex items-center gap-2">
                      <label className="flex min-h-[44px] min-w-[44px] items-center gap-1">
                        <input
                          type="checkbox"
                          checked={a.enabled}
                          disabled={busy}
                          aria-label={`${c.name} audio on`}
                          onChange={(e) => void saveCamera(c.id, { ...a, enabled: e.target.checked })}
                        />
                        on
                      </label>
                      <GainSlider
                        label={`${c.name} gain`}
                        value={a.gain_db}
                        disabled={busy || !a.enabled}
                        onCommit={(v) => void saveCamera(c.id, { ...a, gain_db: v })}
                      />
                    </span>
                  )}
                </div>
                {s ? (
                  <LevelMeter level={s.level} label={`${c.name} level`} testId="audio-meter-camera" />
                ) : (
                  <p className="text-[10px] text-slate-600">Not decoded now (on air or pre-rolled cameras only).</p>
                )}
              </li>
            );
          })}
        </ul>
      </div>
    </section>
  );
}
