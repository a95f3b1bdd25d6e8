// The program feed: one continuous output, cameras taken on air without restarting the encoder.
// Settings (create/edit), start/stop, Preview and Program side by side as on a vision mixer
// (the next camera's live view; the program's own output), one big take button per camera,
// overlays, live status.

import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, type Camera, type Destination, type Preset } from '../api';
import AudioMeters from '../components/AudioMeters';
import EncoderPresetField, { EncoderPresetMetric } from '../components/EncoderPreset';
import LivePlayer from '../components/LivePlayer';
import { ConfirmDialog, Modal } from '../components/Modal';
import { MultiviewTile, type Tally } from '../components/Multiview';
import OnAirBanner from '../components/OnAirBanner';
import PrerollChoice from '../components/PrerollChoice';
import TakeBar, { type Flight } from '../components/TakeBar';
import { Alert, EmptyState, LoadingState, PageHeader, TextField, CameraIcon } from '../components/ui';
import { useAction, useRunner } from '../hooks/useAction';
import { useCameraHealth, type HealthMap } from '../hooks/useCameraHealth';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useEvents } from '../hooks/useEvents';
import { useLivePrograms } from '../hooks/useLivePrograms';
import { useLiveStreams } from '../hooks/useLiveStreams';
import { useLoad } from '../hooks/useLoad';
import { describeLoadError, mapApiError, NO_ERRORS, sentence } from '../lib/errors';
import { formatUptime } from '../lib/format';
import { describeOnAir, destinationNames, listWords, timelineProgram } from '../lib/onAir';
import UplinkBadge from '../components/UplinkBadge';
import {
  studio,
  type EncoderProbe,
  type Overlay,
  type PlayerStatus,
  type Program,
  type ProgramInput,
  type ProgramOverlay,
} from '../api';

const SIZES = [
  { value: '1280x720', label: '1280×720 (720p)' },
  { value: '1920x1080', label: '1920×1080 (1080p)' },
  { value: '854x480', label: '854×480 (480p)' },
];
const FIELDS = ['name', 'width', 'height', 'fps', 'video_bitrate_kbps', 'encoder', 'slate_text', 'destination_ids'];

function errorText(err: unknown): string {
  return mapApiError(err, []).form ?? 'Something went wrong.';
}

// ---------- settings dialog ----------

function ProgramDialog({
  program,
  destinations,
  onSaved,
  onClose,
}: {
  program: Program | null;
  destinations: Destination[];
  onSaved: (p: Program) => void;
  onClose: () => void;
}) {
  const editing = program !== null;
  const initialSize = program ? `${program.width}x${program.height}` : '1280x720';
  const [name, setName] = useState(program?.name ?? '');
  const [size, setSize] = useState(SIZES.some((s) => s.value === initialSize) ? initialSize : 'custom');
  const [width, setWidth] = useState(String(program?.width ?? 1280));
  const [height, setHeight] = useState(String(program?.height ?? 720));
  const [fps, setFps] = useState(String(program?.fps ?? 30));
  const [bitrate, setBitrate] = useState(program ? String(program.video_bitrate_kbps) : '');
  const [adaptive, setAdaptive] = useState(program?.adaptive_bitrate ?? false);
  const [encoder, setEncoder] = useState(program?.encoder ?? 'auto');
  const [preset, setPreset] = useState(program?.encoder_preset.setting ?? 'auto');
  const [slate, setSlate] = useState(program?.slate_text ?? '');
  const [dests, setDests] = useState<number[]>(
    program ? program.destination_ids : destinations.length === 1 ? [destinations[0].id] : [],
  );
  const [probe, setProbe] = useState<EncoderProbe | null>(null);
  const [probeError, setProbeError] = useState<string | null>(null);
  const save = useAction((body: ProgramInput) =>
    program ? studio.updateProgram(program.id, body) : studio.createProgram(body),
  );
  const errors = save.error ? mapApiError(save.error, FIELDS) : NO_ERRORS;
  const busy = save.busy;

  useEffect(() => {
    let alive = true;
    studio
      .encoders()
      .then((p) => alive && setProbe(p))
      .catch((e) => alive && setProbeError(errorText(e)));
    return () => {
      alive = false;
    };
  }, []);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    let w = Number(width);
    let h = Number(height);
    if (size !== 'custom') [w, h] = size.split('x').map(Number);
    const body: ProgramInput = {
      name: name.trim(),
      width: w,
      height: h,
      fps: Number(fps),
      video_bitrate_kbps: bitrate.trim() === '' ? null : Number(bitrate),
      adaptive_bitrate: adaptive,
      encoder,
      encoder_preset: preset,
      slate_text: slate.trim() === '' ? null : slate.trim(),
      destination_ids: dests,
    };
    const saved = await save.run(body);
    if (saved) onSaved(saved);
  };

  const fe = errors.fields;
  const encoderOptions = [{ value: 'auto', label: probe?.selected ? `Automatic (${probe.selected})` : 'Automatic' }];
  for (const r of probe?.results ?? []) {
    encoderOptions.push({ value: r.encoder, label: r.ok ? r.encoder : `${r.encoder} (not working here)` });
  }
  if (!encoderOptions.some((o) => o.value === encoder)) encoderOptions.push({ value: encoder, label: encoder });

  return (
    <Modal title={editing ? `Edit “${program.name}”` : 'New program'} onClose={onClose}>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="space-y-4">
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField
          id="program-name"
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={fe.name}
        />
        <div className="grid grid-cols-2 gap-3">
          <div>
            <label htmlFor="program-size" className="label">
              Size
            </label>
            <select id="program-size" className="input" value={size} onChange={(e) => setSize(e.target.value)}>
              {SIZES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
              <option value="custom">Custom…</option>
            </select>
          </div>
          <div>
            <label htmlFor="program-fps" className="label">
              Frame rate
            </label>
            <select id="program-fps" className="input" value={fps} onChange={(e) => setFps(e.target.value)}>
              {['25', '30'].concat(['25', '30'].includes(fps) ? [] : [fps]).map((f) => (
                <option key={f} value={f}>
                  {f} fps
                </option>
              ))}
            </select>
            {fe.fps && <p className="field-error">{fe.fps}</p>}
          </div>
        </div>
        {size === 'custom' && (
          <div className="grid grid-cols-2 gap-3">
            <TextField
              id="program-width"
              label="Width"
              inputMode="numeric"
              value={width}
              onChange={(e) => setWidth(e.target.value)}
              error={fe.width}
            />
            <TextField
              id="program-height"
              label="Height"
              inputMode="numeric"
              value={height}
              onChange={(e) => setHeight(e.target.value)}
              error={fe.height}
            />
          </div>
        )}
        {size !== 'custom' && (fe.width || fe.height) && <p className="field-error">{fe.width ?? fe.height}</p>}
        <div className="grid grid-cols-2 gap-3">
          <TextField
            id="program-bitrate"
            label="Video bitrate (kbit/s)"
            inputMode="numeric"
            placeholder="automatic"
            value={bitrate}
            onChange={(e) => setBitrate(e.target.value)}
            error={fe.video_bitrate_kbps}
            hint="Leave empty to derive it from size and rate."
          />
          <label className="col-span-2 flex items-center gap-2 text-sm text-slate-700">
            <input
              id="program-adaptive"
              type="checkbox"
              className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
              checked={adaptive}
              onChange={(e) => setAdaptive(e.target.checked)}
            />
            Lower the bitrate while a destination's uplink is congested (and raise it back after)
          </label>
          <div>
            <label htmlFor="program-encoder" className="label">
              Encoder
            </label>
            <select id="program-encoder" className="input" value={encoder} onChange={(e) => setEncoder(e.target.value)}>
              {encoderOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
            {fe.encoder ? (
              <p className="field-error">{fe.encoder}</p>
            ) : (
              <p className="hint">
                {probe ? 'Tested on this appliance.' : probeError ? `Probe failed: ${probeError}` : 'Testing encoders…'}
              </p>
            )}
          </div>
          <EncoderPresetField value={preset} onChange={setPreset} current={program?.encoder_preset} />
        </div>
        <TextField
          id="program-slate"
          label="Slate text"
          placeholder="We'll be right back"
          value={slate}
          onChange={(e) => setSlate(e.target.value)}
          error={fe.slate_text}
          hint="Shown while the camera on air has no picture."
        />
        <fieldset>
          <legend className="label">Destinations</legend>
          {destinations.length === 0 ? (
            <p className="text-sm text-slate-500">No destinations yet: add one on the Destinations page first.</p>
          ) : (
            <div className="space-y-1">
              {destinations.map((d) => (
                <label key={d.id} className="flex items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    checked={dests.includes(d.id)}
                    onChange={(e) =>
                      setDests((prev) => (e.target.checked ? [...prev, d.id] : prev.filter((x) => x !== d.id)))
                    }
                  />
                  {d.name}
                </label>
              ))}
            </div>
          )}
          {fe.destination_ids && <p className="field-error">{fe.destination_ids}</p>}
        </fieldset>
        <div className="flex justify-end gap-2 pt-2">
          <button type="button" className="min-h-11 btn-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="min-h-11 btn-primary" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save program' : 'Create program'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

// ---------- preview and program, side by side ----------

// The badges sit in the title row, not on the picture: the pane shows exactly what goes out,
// overlays in its corners included.
function PaneTitle({
  color,
  title,
  badge,
  children,
}: {
  color: string;
  title: string;
  badge?: ReactNode;
  children?: ReactNode;
}) {
  return (
    <div className="mb-2 flex min-h-[1.75rem] items-center justify-between gap-2">
      <div className="flex min-w-0 items-center gap-2">
        <h3 className="flex items-center gap-2 text-sm font-semibold uppercase tracking-wide text-slate-700">
          <span className={`h-2.5 w-2.5 rounded-full ${color}`} aria-hidden="true" />
          {title}
        </h3>
        {badge}
      </div>
      <div className="flex min-w-0 items-center gap-2 text-xs text-slate-600">{children}</div>
    </div>
  );
}

const BADGE = 'truncate rounded px-2 py-0.5 text-xs font-bold uppercase tracking-wide text-white';

/** Left pane: the live view of the camera that goes on air next. */
function PreviewPane({ camera, pending, onAir }: { camera: Camera | null; pending: boolean; onAir: boolean }) {
  return (
    <div data-testid="preview-live" className="min-w-0">
      <PaneTitle
        color="bg-emerald-500"
        title="Preview"
        badge={
          camera && (
            <span className={`${BADGE} bg-emerald-700`} data-testid="preview-camera">
              {camera.name}
            </span>
          )
        }
      >
        {pending && <span className="font-semibold text-amber-700">Pending take…</span>}
        {onAir && !pending && <span className="font-semibold text-red-600">Already on air</span>}
      </PaneTitle>
      {camera ? (
        <LivePlayer
          key={camera.id}
          cameraId={camera.id}
          alt={`Live view of ${camera.name}`}
          className="aspect-video w-full rounded-lg ring-2 ring-emerald-500"
          intervalMs={3000}
          liveBadge={false}
        />
      ) : (
        <div className="flex aspect-video w-full flex-col items-center justify-center gap-2 rounded-lg bg-slate-900 text-sm text-slate-300">
          <CameraIcon className="h-8 w-8" />
          Select a camera to preview.
        </div>
      )}
    </div>
  );
}

/** Right pane: the program's own encoded output, exactly what the destinations receive. */
function ProgramPane({ program, onAirCam }: { program: Program; onAirCam: Camera | undefined }) {
  const live = program.live;
  const label = !live ? null : live.slate_active || !onAirCam ? 'Slate' : `On air · ${onAirCam.name}`;
  return (
    <div data-testid="program-live" data-running={live ? 'true' : 'false'} className="min-w-0">
      <PaneTitle
        color={live ? 'bg-red-600' : 'bg-slate-400'}
        title="Program"
        badge={
          label ? (
            <span className={`${BADGE} bg-red-600`} title={label === 'Slate' ? program.slate_text : undefined}>
              {label}
            </span>
          ) : (
            <span className="rounded bg-slate-200 px-2 py-0.5 text-xs text-slate-600">stopped</span>
          )
        }
      >
        {live?.held && <span className="font-semibold text-amber-700">Held</span>}
        {live && (
          <span className="truncate">
            {!onAirCam && !live.slate_active ? 'Take a camera · ' : ''}
            {program.width}×{program.height} · {program.fps} fps
          </span>
        )}
      </PaneTitle>
      {live ? (
        <LivePlayer
          key={program.id}
          src={`/api/programs/${program.id}/live`}
          kind="program"
          alt={`Program output of ${program.name}`}
          className="aspect-video w-full rounded-lg ring-2 ring-red-600"
          videoTestId="program-video"
          liveBadge={false}
        />
      ) : (
        <div className="flex aspect-video w-full flex-col items-center justify-center gap-2 rounded-lg bg-slate-900 text-sm text-slate-300">
          <CameraIcon className="h-8 w-8" />
          The program is stopped.
        </div>
      )}
    </div>
  );
}

// ---------- live control ----------

function StateDot({ state }: { state: string }) {
  const color =
    state === 'running'
      ? 'bg-emerald-500'
      : state === 'starting'
        ? 'bg-sky-500'
        : state === 'backoff' || state === 'failed'
          ? 'bg-red-500'
          : 'bg-slate-400';
  return (
    <span className="inline-flex items-center gap-1.5 text-xs font-medium text-slate-700">
      <span className={`h-2 w-2 rounded-full ${color}`} aria-hidden="true" />
      {state}
    </span>
  );
}

function Metric({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="text-sm font-semibold text-slate-900">{value}</dd>
    </div>
  );
}

function ProgramControl({
  program,
  cameras,
  overlays,
  presets,
  health,
  onChange,
}: {
  program: Program;
  cameras: Camera[];
  overlays: Overlay[];
  presets: Record<number, Preset[]>;
  health: HealthMap;
  onChange: (p: Program) => void;
}) {
  const [note, setNote] = useState<string | null>(null);
  // `{ program }` so that a call answering nothing (preroll) still tells success from failure.
  const action = useAction(async (fn: () => Promise<Program | void>) => ({ program: await fn() }));
  const busy = action.busy;
  const error = action.error ? errorText(action.error) : null;
  const live = program.live;
  const running = live != null;

  const act = async (fn: () => Promise<Program | void>, done?: string) => {
    setNote(null);
    const r = await action.run(fn);
    if (!r) return;
    if (r.program) onChange(r.program);
    if (done) setNote(done);
  };

  const visibleOf = (o: Overlay) => program.overlays.some((po) => po.overlay_id === o.id && po.visible);
  const toggleOverlay = (o: Overlay, visible: boolean) => {
    const list: ProgramOverlay[] = program.overlays.filter((po) => po.overlay_id !== o.id);
    list.push({ overlay_id: o.id, visible });
    onChange({ ...program, overlays: list }); // at once; the answer (or the next poll) confirms it
    void act(() => studio.setProgramOverlays(program.id, list));
  };

  const onAirId = live?.on_air_camera_id ?? null;
  const onAirCam = cameras.find((c) => c.id === onAirId);
  // Preview: the camera going on air next (a pending take), else the one last selected for
  // preview (its picture clicked, or Preroll), else the first enabled camera not on air.
  const [previewId, setPreviewId] = useState<number | null>(null);
  const pendingCam = cameras.find((c) => c.id === live?.pending_camera_id);
  const previewCam =
    pendingCam ?? cameras.find((c) => c.id === previewId) ?? cameras.find((c) => c.enabled && c.id !== onAirId) ?? null;
  const previewPending = pendingCam !== undefined;
  const prerolled = new Set((live?.ingests ?? []).map((i) => i.camera_id));

  // A take in flight: its request, then (until the camera's first picture) the program's
  // pending take. A click that cannot be acted on meanwhile is explained, never dropped silently.
  const [flight, setFlight] = useState<Flight | null>(null);
  const [takeNotice, setTakeNotice] = useState<string | null>(null);
  const pendingId = live?.pending_camera_id ?? null;
  if (flight && flight.phase === 'waiting' && pendingId !== flight.cameraId) setFlight(null);
  // A take started elsewhere (a timeline, another browser) shows its progress too (untimed).
  const shownFlight: Flight | null =
    flight ??
    (pendingCam
      ? { cameraId: pendingCam.id, name: pendingCam.name, since: null, phase: 'waiting', withPreset: false }
      : null);

  const take = async (cid: number, presetId?: number) => {
    const cam = cameras.find((c) => c.id === cid);
    if (!cam) return;
    const secs = (f: Flight) => (f.since === null ? '' : ` (${((Date.now() - f.since) / 1000).toFixed(1)} s)`);
    if (!running) {
      setTakeNotice('The program is stopped: start it to take cameras on air.');
      return;
    }
    if (flight?.phase === 'sending') {
      setTakeNotice(
        `Not taken: the take of ${flight.name} is still on its way${secs(flight)}. Wait until it is on air, then take ${cam.name}.`,
      );
      return;
    }
    if (shownFlight && shownFlight.cameraId === cid && presetId === undefined) {
      setTakeNotice(
        `${cam.name} is already being taken${secs(shownFlight)}: it goes on air by itself as soon as its first picture arrives.`,
      );
      return;
    }
    if (onAirId === cid && presetId === undefined) {
      setTakeNotice(`${cam.name} is already on air.`);
      return;
    }
    setTakeNotice(null);
    // A cut, as on a vision mixer: the camera leaving the air goes to Preview.
    if (previewCam && previewCam.id === cid && onAirId !== null && onAirId !== cid) setPreviewId(onAirId);
    setFlight({
      cameraId: cid,
      name: cam.name,
      since: Date.now(),
      phase: 'sending',
      withPreset: presetId !== undefined,
    });
    const r = await action.run(() => studio.take(program.id, cid, presetId));
    const p = r?.program;
    if (p) onChange(p);
    setFlight((f) =>
      f && f.cameraId === cid && f.phase === 'sending'
        ? p && p.live?.pending_camera_id === cid
          ? { ...f, phase: 'waiting' }
          : null
        : f,
    );
  };
  const takePreview = () => {
    if (!previewCam) {
      setTakeNotice('Nothing in Preview: click a camera’s picture first.');
      return;
    }
    void take(previewCam.id);
  };

  // The mixer's keys: space takes Preview, 1–9 take that camera. Not while typing or in a dialog.
  const keys = useRef({ takePreview, take, cameras });
  useEffect(() => {
    keys.current = { takePreview, take, cameras };
  });
  useEffect(() => {
    const ignored = (e: KeyboardEvent) =>
      e.altKey ||
      e.ctrlKey ||
      e.metaKey ||
      (e.target instanceof Element && e.target.closest('input, textarea, select, [contenteditable="true"]') !== null) ||
      document.querySelector('[role="dialog"]') !== null;
    const onDown = (e: KeyboardEvent) => {
      if (e.defaultPrevented || ignored(e)) return;
      if (e.key === ' ') {
        // Instead of clicking the focused button: the space bar is the Take of a mixer.
        e.preventDefault();
        if (!e.repeat) keys.current.takePreview();
      } else if (/^[1-9]$/.test(e.key) && !e.repeat) {
        const cam = keys.current.cameras[Number(e.key) - 1];
        if (cam) {
          e.preventDefault();
          void keys.current.take(cam.id);
        }
      }
    };
    const onUp = (e: KeyboardEvent) => {
      if (e.key === ' ' && !ignored(e)) e.preventDefault();
    };
    window.addEventListener('keydown', onDown);
    window.addEventListener('keyup', onUp);
    return () => {
      window.removeEventListener('keydown', onDown);
      window.removeEventListener('keyup', onUp);
    };
  }, []);

  const tallyOf = (c: Camera): Tally =>
    c.id === onAirId && !live?.slate_active
      ? 'program'
      : c.id === pendingId
        ? 'pending'
        : previewCam?.id === c.id
          ? 'preview'
          : 'none';

  return (
    // On a phone the Take bar comes after the tiles and stays at the bottom of the screen, under
    // the thumb, while they scroll past; from `sm` up everything is in document order.
    <section className="flex flex-col gap-6" aria-label={`Program ${program.name}`}>
      {error && <Alert>{error}</Alert>}
      {note && <Alert kind="success">{note}</Alert>}

      <div className="order-1 grid gap-4 sm:order-none lg:grid-cols-2">
        <PreviewPane
          camera={previewCam}
          pending={previewPending}
          onAir={previewCam !== null && previewCam.id === onAirId}
        />
        <ProgramPane program={program} onAirCam={onAirCam} />
      </div>

      <div className="sticky bottom-0 z-20 order-3 bg-slate-50/95 py-2 sm:static sm:order-none sm:bg-transparent sm:py-0">
        <TakeBar
          previewName={previewCam?.name ?? null}
          canTake={cameras.length > 0}
          running={running}
          flight={shownFlight}
          held={live?.held === true}
          notice={takeNotice}
          onTake={takePreview}
          onSlate={() => void act(() => studio.slate(program.id))}
          slateDisabled={busy || !running || live?.slate_active === true}
          slateTitle={`Cut to the slate (“${program.slate_text}”); take a camera to come back`}
        />
      </div>

      <div className="order-2 sm:order-none">
        <h3 className="mb-2 text-sm font-semibold">Cameras</h3>
        {cameras.length === 0 ? (
          <p className="text-sm text-slate-500">No cameras yet.</p>
        ) : (
          <div className="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-3 xl:grid-cols-4" data-testid="multiview">
            {cameras.map((c, i) => (
              <MultiviewTile
                key={c.id}
                camera={c}
                index={i + 1}
                health={health[c.id]}
                tally={tallyOf(c)}
                prerolled={prerolled.has(c.id) && c.id !== onAirId}
                previewed={previewCam !== null && previewCam.id === c.id}
                presets={presets[c.id] ?? []}
                running={running}
                onPreview={(cid) => {
                  setTakeNotice(null);
                  setPreviewId(cid);
                }}
                onTake={(cid, pid) => void take(cid, pid)}
                onPreroll={(cid) => {
                  setPreviewId(cid);
                  void act(
                    () => studio.preroll(program.id, cid),
                    `Preroll started for ${cameras.find((x) => x.id === cid)?.name}.`,
                  );
                }}
              />
            ))}
          </div>
        )}
      </div>

      <AudioMeters program={program} cameras={cameras} />
      {/* On a phone after the cameras and the Take bar, with the status cards. */}
      <PrerollChoice program={program} onChange={onChange} className="order-4 sm:order-none" />

      <div className="order-4 grid gap-6 sm:order-none lg:grid-cols-3">
        <div className="card p-4" data-testid="program-status">
          <h3 className="mb-3 text-sm font-semibold">Output</h3>
          {live ? (
            <>
              <dl className="grid grid-cols-2 gap-3">
                <Metric label="Encoder" value={`${live.encoder} (${live.encoder_state})`} />
                <Metric label="Uptime" value={formatUptime(live.uptime_s)} />
                <Metric label="FPS" value={live.fps_measured.toFixed(1)} />
                <Metric
                  label="Bitrate"
                  value={live.bitrate_kbps != null ? `${Math.round(live.bitrate_kbps)} kbit/s` : '—'}
                />
                {live.bitrate_note && (
                  <Metric label="Video bitrate" value={`${live.video_bitrate_kbps} kbit/s (${live.bitrate_note})`} />
                )}
                <Metric label="Speed" value={live.speed != null ? `${live.speed.toFixed(2)}×` : '—'} />
                <EncoderPresetMetric preset={program.encoder_preset} />
                <Metric
                  label="Take latency"
                  value={live.take_latency_ms != null ? `${live.take_latency_ms} ms` : '—'}
                />
                <Metric label="Duplicated" value={String(live.duplicated_frames)} />
                <Metric label="Dropped" value={String(live.dropped_frames)} />
                <Metric label="Slate frames" value={String(live.slate_frames)} />
                <Metric label="Frames" value={String(live.frames)} />
              </dl>
              {(live.held || live.slate_active) && (
                <p className="mt-3 text-xs font-semibold text-amber-700">
                  {live.held ? 'Picture held (camera moving to a preset)' : 'Slate on air'}
                </p>
              )}
            </>
          ) : (
            <p className="text-sm text-slate-500">Not running.</p>
          )}
        </div>
        <div className="card p-4">
          <h3 className="mb-2 text-sm font-semibold">Overlays</h3>
          {overlays.length === 0 ? (
            <p className="text-sm text-slate-500">No overlays yet (see the Overlays page).</p>
          ) : (
            <ul className="space-y-1">
              {overlays.map((o) => (
                <li key={o.id}>
                  <label className="flex min-h-11 items-center gap-2 text-sm">
                    <input
                      type="checkbox"
                      checked={visibleOf(o)}
                      disabled={busy}
                      onChange={(e) => toggleOverlay(o, e.target.checked)}
                    />
                    {o.name} <span className="text-xs text-slate-500">{o.kind}</span>
                  </label>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="card p-4">
          <h3 className="mb-2 text-sm font-semibold">Destinations and cameras</h3>
          {live ? (
            <table className="w-full text-sm">
              <tbody>
                {live.outputs.map((o) => (
                  <tr
                    key={`d${o.destination_id}`}
                    data-testid="program-output"
                    className="border-t border-slate-100 align-top"
                  >
                    <td className="py-1 pr-2">{o.destination}</td>
                    <td className="py-1 pr-2">
                      <StateDot state={o.state} />
                      {o.restarts > 0 && <span className="ml-1 text-xs text-slate-500">({o.restarts} restarts)</span>}
                      <UplinkBadge uplink={o.uplink} />
                    </td>
                    <td className="break-all py-1 text-xs text-red-600">
                      <span className="line-clamp-3" title={o.last_error ?? undefined}>
                        {o.last_error ?? ''}
                      </span>
                    </td>
                  </tr>
                ))}
                {live.ingests.map((i) => (
                  <tr
                    key={`c${i.camera_id}`}
                    data-testid="program-ingest"
                    className="border-t border-slate-100 align-top"
                  >
                    <td className="py-1 pr-2">
                      <span className="text-xs text-slate-500">Camera</span> {i.camera}
                    </td>
                    <td className="py-1 pr-2">
                      <StateDot state={i.state} /> <span className="text-xs text-slate-500">{i.frames} frames</span>
                    </td>
                    <td className="break-all py-1 text-xs text-red-600">{i.last_error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="text-sm text-slate-500">Not running.</p>
          )}
        </div>
      </div>
    </section>
  );
}

// ---------- page ----------

/** What stopping a program takes off air, named. */
function StopMessage({
  program,
  destinations,
  timeline,
}: {
  program: Program;
  destinations: Destination[] | undefined;
  /** The timeline playing through this program, stopped with it. */
  timeline: string | null;
}) {
  const names = destinationNames(program.destination_ids, destinations);
  return (
    <>
      {timeline && (
        <p className="mb-2" data-testid="stops-timeline">
          The timeline “{timeline}” plays through this program: it stops too (its next cut would start the program
          again).
        </p>
      )}
      <p>
        “{program.name}” stops encoding and its stream ends.{' '}
        {names.length > 0 ? (
          <>
            These destinations go off air: <strong data-testid="off-air-destinations">{listWords(names)}</strong>.
          </>
        ) : (
          'It sends to no destination.'
        )}
      </p>
      <p className="mt-2">A platform such as YouTube may end the broadcast when the stream stops.</p>
    </>
  );
}

export default function ProgramPage() {
  const programs = useLivePrograms();
  const destinations = useLoad(() => api.listDestinations(), []);
  const cameras = useLoad(() => api.listCameras(), []);
  const overlays = useLoad(() => studio.listOverlays().catch(() => [] as Overlay[]), []);
  const [presets, setPresets] = useState<Record<number, Preset[]>>({});
  const [selectedId, setSelectedId] = useState<number | null>(null);
  const [editing, setEditing] = useState<Program | 'new' | null>(null);
  const [stopping, setStopping] = useState<Program | null>(null);
  const { health } = useCameraHealth();
  const streams = useLiveStreams();
  // The timeline playing, if any, for the on-air sentence.
  const [player, setPlayer] = useState<PlayerStatus | null>(null);
  useEffect(() => {
    studio.playerStatus().then(setPlayer, () => undefined);
  }, []);

  const list = programs.data ?? [];
  const selected = list.find((p) => p.id === selectedId) ?? list.find((p) => p.live) ?? list[0] ?? null;

  // Cameras and overlays changed elsewhere (another browser, a sync from VistterStudio).
  const reloadCameras = cameras.reload;
  const reloadOverlays = overlays.reload;
  useEvents(
    {
      camera_changed: () => void reloadCameras(),
      overlay_changed: () => void reloadOverlays(),
      timeline_position: (d) => setPlayer(d as PlayerStatus),
    },
    {
      onResync: () => {
        void reloadCameras();
        void reloadOverlays();
      },
    },
  );

  // Presets of the PTZ cameras, for "take at preset".
  useEffect(() => {
    for (const c of cameras.data ?? []) {
      if (c.type !== 'PTZ') continue;
      api
        .listPresets(c.id)
        .then((ps) => setPresets((prev) => ({ ...prev, [c.id]: ps })))
        .catch(() => undefined);
    }
  }, [cameras.data]);

  const { settle } = programs;
  const action = useRunner();
  const run = async (fn: () => Promise<Program>) => {
    const p = await action.run(fn);
    if (p) settle(p);
  };
  const busy = action.busy;
  const error = action.error ? errorText(action.error) : null;

  const del = useConfirmDelete((p: Program) => studio.deleteProgram(p.id), {
    onDeleted: (p) => programs.remove(p.id),
    describe: (e) => sentence(errorText(e)),
  });

  // The timeline playing through `p` (timelines play through the running program with the
  // lowest id).
  const drivingTimeline = (p: Program): { id: string; name: string } | null =>
    player?.state === 'playing' && player.timeline_id && timelineProgram(list)?.id === p.id
      ? { id: player.timeline_id, name: player.timeline_name ?? player.timeline_id }
      : null;

  const destName = useMemo(() => {
    const m = new Map((destinations.data ?? []).map((d) => [d.id, d.name]));
    return (ids: number[]) => ids.map((i) => m.get(i) ?? `#${i}`).join(', ');
  }, [destinations.data]);

  if (programs.loading && !programs.data) return <LoadingState />;
  if (programs.error && !programs.data)
    return <Alert title="Cannot load programs">{describeLoadError(programs.error)}</Alert>;

  return (
    <div>
      <PageHeader
        title="Program"
        description="One continuous output: switch cameras on air without interrupting the stream."
        actions={
          <button type="button" className="btn-primary min-h-11" onClick={() => setEditing('new')}>
            New program
          </button>
        }
      />
      <OnAirBanner
        loading={!programs.data || !streams.data}
        lines={describeOnAir({
          programs: list,
          streams: streams.data ?? [],
          destinations: destinations.data,
          cameras: cameras.data ?? [],
          player,
        })}
      />
      {error && (
        <div className="mb-4">
          <Alert>{error}</Alert>
        </div>
      )}
      {list.length === 0 ? (
        <EmptyState
          title="No program yet"
          description="A program sends one continuous stream to your destinations; cameras are taken on air without restarting it."
          action={
            <button type="button" className="min-h-11 btn-primary" onClick={() => setEditing('new')}>
              Create your first program
            </button>
          }
        />
      ) : (
        <>
          <div className="card mb-6 divide-y divide-slate-100">
            {list.map((p) => (
              <div
                key={p.id}
                data-testid="program-row"
                className={`flex flex-wrap items-center gap-3 px-4 py-3 ${selected?.id === p.id ? 'bg-sky-50' : ''}`}
              >
                <button type="button" className="min-h-11 min-w-0 flex-1 text-left" onClick={() => setSelectedId(p.id)}>
                  <span className="font-medium">{p.name}</span>{' '}
                  {p.live ? (
                    <span className="ml-2 rounded bg-red-600 px-1.5 py-0.5 text-xs font-bold text-white">LIVE</span>
                  ) : (
                    <span className="ml-2 rounded bg-slate-200 px-1.5 py-0.5 text-xs text-slate-600">stopped</span>
                  )}
                  <span className="block text-xs text-slate-600">
                    {p.width}×{p.height} · {p.fps} fps · {p.video_bitrate_kbps} kbit/s · {p.encoder} →{' '}
                    {destName(p.destination_ids)}
                  </span>
                </button>
                {p.live ? (
                  <button
                    type="button"
                    className="btn-danger btn-sm min-h-11"
                    disabled={busy}
                    onClick={() => setStopping(p)}
                  >
                    Stop
                  </button>
                ) : (
                  <button
                    type="button"
                    className="btn-primary btn-sm min-h-11"
                    disabled={busy}
                    onClick={() => {
                      setSelectedId(p.id);
                      void run(() => studio.startProgram(p.id));
                    }}
                  >
                    Start
                  </button>
                )}
                <button
                  type="button"
                  className="btn-secondary btn-sm min-h-11"
                  disabled={!!p.live}
                  onClick={() => setEditing(p)}
                  aria-label={`Edit ${p.name}`}
                >
                  Edit
                </button>
                <button
                  type="button"
                  className="btn-ghost btn-sm min-h-11"
                  disabled={!!p.live}
                  onClick={() => del.ask(p)}
                  aria-label={`Delete ${p.name}`}
                >
                  Delete
                </button>
              </div>
            ))}
          </div>
          {selected && (
            <>
              <h2 className="mb-3 text-lg font-semibold">{selected.name}</h2>
              <ProgramControl
                program={selected}
                cameras={cameras.data ?? []}
                overlays={overlays.data ?? []}
                presets={presets}
                health={health}
                onChange={settle}
              />
            </>
          )}
        </>
      )}
      {editing && (
        <ProgramDialog
          program={editing === 'new' ? null : editing}
          destinations={destinations.data ?? []}
          onClose={() => setEditing(null)}
          onSaved={(p) => {
            programs.setData((prev) => {
              const l = prev ?? [];
              return l.some((x) => x.id === p.id) ? l.map((x) => (x.id === p.id ? p : x)) : [...l, p];
            });
            setSelectedId(p.id);
            setEditing(null);
          }}
        />
      )}
      {stopping && (
        <ConfirmDialog
          title="Stop the program?"
          message={
            <StopMessage
              program={stopping}
              destinations={destinations.data}
              timeline={drivingTimeline(stopping)?.name ?? null}
            />
          }
          confirmLabel="Stop program"
          busy={busy}
          error={error}
          onCancel={() => setStopping(null)}
          onConfirm={() => {
            const driving = drivingTimeline(stopping);
            void (async () => {
              if (driving) {
                const stopped = await action.run(() => studio.stopTimeline(driving.id));
                if (stopped === undefined) return;
                setPlayer(stopped);
              }
              await run(() => studio.stopProgram(stopping.id));
              setStopping(null);
            })();
          }}
        />
      )}
      {del.target && (
        <ConfirmDialog
          title="Delete program"
          message={`Delete “${del.target.name}”?`}
          confirmLabel="Delete"
          {...del.dialog}
        />
      )}
    </div>
  );
}
