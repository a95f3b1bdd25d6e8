// Timelines: import VistterStudio files, play them through the program, and a small editor with
// tracks of clips on a time ruler (drag to move, snapped to 100 ms) and a live playhead.

import { useCallback, useEffect, useMemo, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { ApiError, api, type Camera, type Preset } from '../api';
import ImportPlanDialog, { needsChoices } from '../components/ImportPlanDialog';
import { ConfirmDialog, Modal } from '../components/Modal';
import OnAirBanner from '../components/OnAirBanner';
import { Alert, EmptyState, LoadingState, PageHeader } from '../components/ui';
import { useAction, useRunner } from '../hooks/useAction';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useEvents } from '../hooks/useEvents';
import { useLivePrograms } from '../hooks/useLivePrograms';
import { useLiveStreams } from '../hooks/useLiveStreams';
import { useLoad } from '../hooks/useLoad';
import { upsert } from '../lib/collections';
import { describeOnAir, destinationNames, listWords, timelineProgram } from '../lib/onAir';
import { describeLoadError, mapApiError } from '../lib/errors';
import { formatMs, locatePath, movedStart, newClipId, rulerTicks } from '../lib/timeline';
import {
  studio,
  type Clip,
  type ImportPlan,
  type ImportResult,
  type Issue,
  type Overlay,
  type PlayerStatus,
  type Program,
  type Timeline,
  type Track,
} from '../api';

function errorWithPath(e: unknown): Issue {
  if (e instanceof ApiError) return { path: e.field ?? '', message: e.message };
  return { path: '', message: mapApiError(e, []).form ?? 'Something went wrong.' };
}

function IssueList({ title, issues, kind }: { title: string; issues: Issue[]; kind: 'error' | 'warning' }) {
  if (issues.length === 0) return null;
  return (
    <Alert kind={kind} title={title}>
      <ul
        className="list-disc space-y-0.5 pl-5"
        data-testid={kind === 'error' ? 'timeline-errors' : 'timeline-warnings'}
      >
        {issues.map((i, n) => (
          <li key={n}>
            {i.path && <code className="mr-1 rounded bg-white/60 px-1 text-xs">{i.path}</code>}
            {i.message}
          </li>
        ))}
      </ul>
    </Alert>
  );
}

// ---------- import ----------

function ImportPanel({ cameras, onImported }: { cameras: Camera[]; onImported: (r: ImportResult) => void }) {
  const [report, setReport] = useState<ImportResult | null>(null);
  // A file whose cameras need choices: the plan is shown before anything is written.
  const [planned, setPlanned] = useState<{ segment: unknown; plan: ImportPlan } | null>(null);
  const importing = useAction(async (file: File) => {
    const text = await file.text();
    let segment: unknown;
    try {
      segment = JSON.parse(text);
    } catch {
      // Not JSON: the appliance says what is wrong with it.
      return studio.importTimeline(text);
    }
    const plan = await studio.planImport(segment);
    if (needsChoices(plan)) return { segment, plan };
    return studio.importTimeline(text);
  });
  const error = importing.error ? errorWithPath(importing.error) : null;
  const busy = importing.busy;
  const done = (r: ImportResult) => {
    setPlanned(null);
    setReport(r);
    onImported(r);
  };
  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setReport(null);
    const r = await importing.run(file);
    if (!r) return;
    if ('plan' in r) setPlanned(r);
    else done(r);
  };
  return (
    <div className="card mb-6 space-y-3 p-4">
      <div className="flex flex-wrap items-center gap-3">
        <label htmlFor="timeline-import" className="text-sm font-medium">
          Import a VistterStudio file
        </label>
        <input
          id="timeline-import"
          type="file"
          accept=".json,application/json"
          className="min-h-11 max-w-full text-sm"
          onChange={(e) => void onFile(e)}
          disabled={busy}
        />
        {busy && <span className="text-sm text-slate-500">Reading…</span>}
      </div>
      {error && <IssueList title="The file was not imported" issues={[error]} kind="error" />}
      {report && (
        <div data-testid="import-report" className="space-y-2 text-sm">
          <Alert kind="success" title={`Imported “${report.timeline.name}” (${report.format} format)`}>
            {report.created_cameras.length > 0 ? (
              <>
                New cameras, disabled until you enable them on the Cameras page:
                <ul className="list-disc pl-5">
                  {report.created_cameras.map((c) => (
                    <li key={c.id}>
                      {c.name} <span className="break-all text-xs opacity-75">{c.address}</span>
                    </li>
                  ))}
                </ul>
              </>
            ) : (
              'Every source matched an existing camera.'
            )}
            {report.credentials_moved.length > 0 && (
              <p className="mt-1 text-xs">Credentials taken out of the file: {report.credentials_moved.join(', ')}</p>
            )}
          </Alert>
          <IssueList title="Warnings" issues={report.warnings} kind="warning" />
        </div>
      )}
      {planned && (
        <ImportPlanDialog
          segment={planned.segment}
          initial={planned.plan}
          cameras={cameras}
          onImported={done}
          onClose={() => setPlanned(null)}
        />
      )}
    </div>
  );
}

// ---------- clip dialog ----------

interface ClipTarget {
  track: number;
  clip: number | null; // null: a new clip
}

function ClipDialog({
  timeline,
  target,
  cameras,
  overlays,
  onApply,
  onDelete,
  onClose,
}: {
  timeline: Timeline;
  target: ClipTarget;
  cameras: Camera[];
  overlays: Overlay[];
  onApply: (track: number, clip: Clip, index: number | null) => void;
  onDelete: () => void;
  onClose: () => void;
}) {
  const existing = target.clip !== null ? timeline.tracks[target.track].clips[target.clip] : null;
  const [track, setTrack] = useState(target.track);
  const trackKind = timeline.tracks[track]?.kind;
  const src = existing?.source;
  const [type, setType] = useState<'camera' | 'overlay' | 'passthrough'>(
    src?.type ?? (trackKind === 'overlay' ? 'overlay' : 'camera'),
  );
  const [cameraId, setCameraId] = useState(
    src?.type === 'camera' ? String(src.camera_id) : String(cameras[0]?.id ?? ''),
  );
  const [presetId, setPresetId] = useState(
    src?.type === 'camera' && src.preset_id != null ? String(src.preset_id) : '',
  );
  const [overlayId, setOverlayId] = useState(
    src?.type === 'overlay' ? String(src.overlay_id) : String(overlays[0]?.id ?? ''),
  );
  const ov = src?.type === 'overlay' ? src : null;
  const [place, setPlace] = useState({
    x: String(ov?.x ?? 40),
    y: String(ov?.y ?? 40),
    width: String(ov?.width ?? 320),
    height: String(ov?.height ?? 120),
    opacity: String(ov?.opacity ?? 1),
  });
  const lastEnd = Math.max(0, ...timeline.tracks[track].clips.map((c) => c.end_ms));
  const [start, setStart] = useState(
    String((existing?.start_ms ?? Math.min(lastEnd, timeline.duration_ms - 1000)) / 1000),
  );
  const [end, setEnd] = useState(String((existing?.end_ms ?? Math.min(lastEnd + 10_000, timeline.duration_ms)) / 1000));
  const [error, setError] = useState<string | null>(null);

  // Presets only move PTZ cameras.
  const ptzId = cameras.find((c) => String(c.id) === cameraId && c.type === 'PTZ')?.id ?? null;
  const presetsLoad = useLoad(
    () => (ptzId === null ? Promise.resolve([]) : api.listPresets(ptzId).catch(() => [] as Preset[])),
    [ptzId],
  );
  const presets = presetsLoad.data ?? [];

  // An overlay's own placement as the default for a new overlay clip.
  const pickOverlay = (id: string) => {
    setOverlayId(id);
    const o = overlays.find((x) => String(x.id) === id);
    if (o && !existing) {
      const d = o.definition;
      setPlace((p) => ({
        x: String(d.x ?? p.x),
        y: String(d.y ?? p.y),
        width: String(d.width ?? p.width),
        height: String(d.height ?? p.height),
        opacity: String(d.opacity ?? p.opacity),
      }));
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const s = Math.round(Number(start) * 1000);
    const en = Math.round(Number(end) * 1000);
    if (!Number.isFinite(s) || !Number.isFinite(en) || en <= s) {
      setError('The end must be after the start.');
      return;
    }
    let source: Clip['source'];
    if (type === 'camera') {
      if (!cameraId) return setError('Choose a camera.');
      source = { type: 'camera', camera_id: Number(cameraId), ...(presetId ? { preset_id: Number(presetId) } : {}) };
    } else if (type === 'overlay') {
      if (!overlayId) return setError('Choose an overlay.');
      source = {
        type: 'overlay',
        overlay_id: Number(overlayId),
        x: Number(place.x),
        y: Number(place.y),
        width: Number(place.width),
        height: Number(place.height),
        opacity: Number(place.opacity),
      };
    } else source = { type: 'passthrough' };
    const clip: Clip = { ...(existing ?? {}), id: existing?.id ?? newClipId(), start_ms: s, end_ms: en, source };
    onApply(track, clip, target.clip !== null && track === target.track ? target.clip : null);
  };

  return (
    <Modal title={existing ? 'Edit clip' : 'Add clip'} onClose={onClose}>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="space-y-4">
        {error && <Alert>{error}</Alert>}
        <div className="grid grid-cols-2 gap-3">
          <div>
            <label htmlFor="clip-track" className="label">
              Track
            </label>
            <select
              id="clip-track"
              className="input"
              value={track}
              onChange={(e) => setTrack(Number(e.target.value))}
              disabled={!!existing}
            >
              {timeline.tracks.map((t, i) => (
                <option key={i} value={i}>
                  {t.name || t.kind} ({t.kind})
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="clip-type" className="label">
              Shows
            </label>
            <select
              id="clip-type"
              className="input"
              value={type}
              onChange={(e) => setType(e.target.value as typeof type)}
            >
              <option value="camera">A camera</option>
              <option value="overlay">An overlay</option>
              <option value="passthrough">Passthrough</option>
            </select>
          </div>
        </div>
        {type === 'camera' && (
          <div className="grid grid-cols-2 gap-3">
            <div>
              <label htmlFor="clip-camera" className="label">
                Camera
              </label>
              <select
                id="clip-camera"
                className="input"
                value={cameraId}
                onChange={(e) => {
                  setCameraId(e.target.value);
                  setPresetId('');
                }}
              >
                {cameras.map((c) => (
                  <option key={c.id} value={String(c.id)}>
                    {c.name}
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label htmlFor="clip-preset" className="label">
                Preset
              </label>
              <select
                id="clip-preset"
                className="input"
                value={presetId}
                onChange={(e) => setPresetId(e.target.value)}
                disabled={presets.length === 0}
              >
                <option value="">None</option>
                {presets.map((p) => (
                  <option key={p.id} value={String(p.id)}>
                    {p.name}
                  </option>
                ))}
              </select>
            </div>
          </div>
        )}
        {type === 'overlay' && (
          <>
            <div>
              <label htmlFor="clip-overlay" className="label">
                Overlay
              </label>
              <select
                id="clip-overlay"
                className="input"
                value={overlayId}
                onChange={(e) => pickOverlay(e.target.value)}
              >
                {overlays.map((o) => (
                  <option key={o.id} value={String(o.id)}>
                    {o.name}
                  </option>
                ))}
              </select>
            </div>
            <div className="grid grid-cols-5 gap-2">
              {(['x', 'y', 'width', 'height', 'opacity'] as const).map((k) => (
                <div key={k}>
                  <label htmlFor={`clip-${k}`} className="label capitalize">
                    {k}
                  </label>
                  <input
                    id={`clip-${k}`}
                    className="input"
                    inputMode="decimal"
                    value={place[k]}
                    onChange={(e) => setPlace((p) => ({ ...p, [k]: e.target.value }))}
                  />
                </div>
              ))}
            </div>
          </>
        )}
        <div className="grid grid-cols-2 gap-3">
          <div>
            <label htmlFor="clip-start" className="label">
              Start (s)
            </label>
            <input
              id="clip-start"
              className="input"
              inputMode="decimal"
              value={start}
              onChange={(e) => setStart(e.target.value)}
            />
          </div>
          <div>
            <label htmlFor="clip-end" className="label">
              End (s)
            </label>
            <input
              id="clip-end"
              className="input"
              inputMode="decimal"
              value={end}
              onChange={(e) => setEnd(e.target.value)}
            />
          </div>
        </div>
        <div className="flex justify-between gap-2 pt-2">
          {existing ? (
            <button type="button" className="min-h-11 btn-danger" onClick={onDelete}>
              Delete clip
            </button>
          ) : (
            <span />
          )}
          <div className="flex gap-2">
            <button type="button" className="min-h-11 btn-secondary" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="min-h-11 btn-primary">
              {existing ? 'Apply' : 'Add clip'}
            </button>
          </div>
        </div>
      </form>
    </Modal>
  );
}

// ---------- editor ----------

const TRACK_COLORS: Record<string, string> = {
  video: 'bg-sky-600 border-sky-800',
  overlay: 'bg-violet-600 border-violet-800',
  audio: 'bg-emerald-600 border-emerald-800',
  ad: 'bg-amber-600 border-amber-800',
};

function clipLabel(c: Clip, cameras: Camera[], overlays: Overlay[]): string {
  const s = c.source;
  if (s?.type === 'camera') return cameras.find((x) => x.id === s.camera_id)?.name ?? `camera ${s.camera_id}`;
  if (s?.type === 'overlay') return overlays.find((x) => x.id === s.overlay_id)?.name ?? `overlay ${s.overlay_id}`;
  return s?.type ?? 'clip';
}

function Editor({
  initial,
  cameras,
  overlays,
  player,
  onSaved,
  onClose,
}: {
  initial: Timeline;
  cameras: Camera[];
  overlays: Overlay[];
  player: PlayerStatus | null;
  onSaved: (t: Timeline) => void;
  onClose: () => void;
}) {
  const [t, setT] = useState<Timeline>(() => structuredClone(initial));
  const [dirty, setDirty] = useState(false);
  const [target, setTarget] = useState<ClipTarget | null>(null);
  const [errors, setErrors] = useState<Issue[]>([]);
  const [warnings, setWarnings] = useState<Issue[]>(initial.warnings ?? []);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const drag = useRef<{
    track: number;
    clip: number;
    x0: number;
    start0: number;
    width: number;
    moved: boolean;
  } | null>(null);
  const [dragPreview, setDragPreview] = useState<{ track: number; clip: number; start: number } | null>(null);
  const dur = Math.max(1, t.duration_ms);
  const bad = useMemo(
    () =>
      new Set(
        errors
          .map((e) => locatePath(e.path))
          .filter((l) => l.clip !== null)
          .map((l) => `${l.track}:${l.clip}`),
      ),
    [errors],
  );

  const update = (fn: (d: Timeline) => void) => {
    setT((prev) => {
      const next = structuredClone(prev);
      fn(next);
      return next;
    });
    setDirty(true);
    setSaved(false);
  };

  const onPointerDown = (e: React.PointerEvent<HTMLDivElement>, track: number, clip: number) => {
    const lane = (e.currentTarget.parentElement as HTMLElement).getBoundingClientRect();
    e.currentTarget.setPointerCapture(e.pointerId);
    drag.current = {
      track,
      clip,
      x0: e.clientX,
      start0: t.tracks[track].clips[clip].start_ms,
      width: lane.width,
      moved: false,
    };
  };
  const onPointerMove = (e: React.PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x0;
    if (Math.abs(dx) > 3) d.moved = true;
    if (!d.moved) return;
    const c = t.tracks[d.track].clips[d.clip];
    const start = movedStart(d.start0, c.end_ms - c.start_ms, (dx / d.width) * dur, dur);
    setDragPreview({ track: d.track, clip: d.clip, start });
  };
  const onPointerUp = (track: number, clip: number) => {
    const d = drag.current;
    drag.current = null;
    if (d && d.moved && dragPreview) {
      const start = dragPreview.start;
      update((n) => {
        const c = n.tracks[track].clips[clip];
        const len = c.end_ms - c.start_ms;
        c.start_ms = start;
        c.end_ms = start + len;
      });
    } else {
      setTarget({ track, clip });
    }
    setDragPreview(null);
  };

  const save = async () => {
    setBusy(true);
    setErrors([]);
    try {
      const r = await studio.updateTimeline(t.id, t);
      setT(structuredClone(r));
      setWarnings(r.warnings ?? []);
      setDirty(false);
      setSaved(true);
      onSaved(r);
    } catch (e) {
      // The PUT names the first problem; the validation lists them all.
      const first = errorWithPath(e);
      try {
        const v = await studio.validateTimeline(t);
        setErrors(v.errors.length > 0 ? v.errors : [first]);
        setWarnings(v.warnings);
      } catch {
        setErrors([first]);
      }
    } finally {
      setBusy(false);
    }
  };

  const playing = player && player.state === 'playing' && player.timeline_id === t.id;
  const ticks = rulerTicks(dur);

  return (
    <section className="card mt-6 space-y-4 p-4" aria-label="Timeline editor" data-testid="timeline-editor">
      <div className="flex flex-wrap items-end gap-3">
        <div className="min-w-[12rem] flex-1">
          <label htmlFor="tl-name" className="label">
            Name
          </label>
          <input
            id="tl-name"
            className="input"
            value={t.name}
            onChange={(e) => update((n) => void (n.name = e.target.value))}
          />
        </div>
        <div className="w-32">
          <label htmlFor="tl-duration" className="label">
            Duration (s)
          </label>
          <input
            id="tl-duration"
            className="input"
            inputMode="decimal"
            value={String(t.duration_ms / 1000)}
            onChange={(e) => update((n) => void (n.duration_ms = Math.round(Number(e.target.value) * 1000) || 0))}
          />
        </div>
        <div className="w-32">
          <label htmlFor="tl-playback" className="label">
            Playback
          </label>
          <select
            id="tl-playback"
            className="input"
            value={t.playback}
            onChange={(e) => update((n) => void (n.playback = e.target.value as 'loop' | 'once'))}
          >
            <option value="loop">Loop</option>
            <option value="once">Once</option>
          </select>
        </div>
        <button
          type="button"
          className="min-h-11 btn-secondary"
          onClick={() => setTarget({ track: 0, clip: null })}
          disabled={t.tracks.length === 0}
        >
          Add clip
        </button>
        <button
          type="button"
          className="min-h-11 btn-secondary"
          onClick={() =>
            update(
              (n) =>
                void n.tracks.push({
                  id: `track-${Date.now().toString(36)}`,
                  kind: 'overlay',
                  name: `Overlays ${n.tracks.length}`,
                  clips: [],
                }),
            )
          }
        >
          Add overlay track
        </button>
        <button type="button" className="min-h-11 btn-primary" onClick={() => void save()} disabled={busy || !dirty}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="min-h-11 btn-ghost" onClick={onClose}>
          Close
        </button>
      </div>
      {saved && <Alert kind="success">Saved.</Alert>}
      <IssueList title="Not saved: fix these problems" issues={errors} kind="error" />
      <IssueList title="Warnings" issues={warnings} kind="warning" />

      <div className="flex gap-2">
        <div className="w-28 shrink-0" />
        <div className="relative h-6 flex-1 border-b border-slate-300 text-[10px] text-slate-500">
          {ticks.map((ms) => (
            <span
              key={ms}
              className="absolute top-0 -translate-x-1/2 border-l border-slate-300 pl-0.5"
              style={{ left: `${(ms / dur) * 100}%` }}
            >
              {formatMs(ms)}
            </span>
          ))}
        </div>
      </div>
      <div className="relative space-y-2">
        {t.tracks.map((tr: Track, ti) => (
          <div key={ti} className="flex items-center gap-2" data-testid="timeline-track">
            <div className="w-28 shrink-0 truncate text-xs">
              <p className="font-medium">{tr.name || tr.kind}</p>
              <p className="text-slate-400">{tr.kind}</p>
            </div>
            <div className="relative h-12 flex-1 overflow-hidden rounded bg-slate-100">
              {tr.clips.map((c, ci) => {
                const start =
                  dragPreview && dragPreview.track === ti && dragPreview.clip === ci ? dragPreview.start : c.start_ms;
                const len = c.end_ms - c.start_ms;
                return (
                  <div
                    key={c.id ?? ci}
                    role="button"
                    tabIndex={0}
                    data-testid="timeline-clip"
                    aria-label={`Clip ${clipLabel(c, cameras, overlays)} ${formatMs(c.start_ms)}–${formatMs(c.end_ms)}`}
                    className={`absolute top-1 bottom-1 cursor-grab touch-none select-none overflow-hidden rounded border px-1 text-[11px] leading-tight text-white shadow-sm ${
                      TRACK_COLORS[tr.kind] ?? 'bg-slate-600 border-slate-800'
                    } ${bad.has(`${ti}:${ci}`) ? 'ring-2 ring-red-500 ring-offset-1' : ''}`}
                    style={{ left: `${(start / dur) * 100}%`, width: `${Math.max(0.3, (len / dur) * 100)}%` }}
                    onPointerDown={(e) => onPointerDown(e, ti, ci)}
                    onPointerMove={onPointerMove}
                    onPointerUp={() => onPointerUp(ti, ci)}
                    onKeyDown={(e) => e.key === 'Enter' && setTarget({ track: ti, clip: ci })}
                  >
                    <span className="block truncate font-medium">{clipLabel(c, cameras, overlays)}</span>
                    <span className="block truncate opacity-80">
                      {formatMs(start)}–{formatMs(start + len)}
                    </span>
                  </div>
                );
              })}
            </div>
          </div>
        ))}
        {playing && (
          <div className="pointer-events-none absolute inset-y-0 left-0 right-0 flex gap-2">
            <div className="w-28 shrink-0" />
            <div className="relative flex-1">
              <div
                data-testid="playhead"
                className="absolute inset-y-0 w-0.5 bg-red-600"
                style={{ left: `${(Math.min(player.position_ms, dur) / dur) * 100}%` }}
              />
            </div>
          </div>
        )}
      </div>
      <p className="text-xs text-slate-500">
        Drag a clip to move it (snapped to 0.1 s); click it to edit or delete it.
        {playing && ` Playing: ${formatMs(player.position_ms)} / ${formatMs(player.duration_ms)}.`}
      </p>

      {target && (
        <ClipDialog
          timeline={t}
          target={target}
          cameras={cameras}
          overlays={overlays}
          onClose={() => setTarget(null)}
          onApply={(track, clip, index) => {
            update((n) => {
              if (index === null) n.tracks[track].clips.push(clip);
              else n.tracks[track].clips[index] = clip;
              n.tracks[track].clips.sort((a, b) => a.start_ms - b.start_ms);
            });
            setTarget(null);
          }}
          onDelete={() => {
            const { track, clip } = target;
            update((n) => void n.tracks[track].clips.splice(clip as number, 1));
            setTarget(null);
          }}
        />
      )}
    </section>
  );
}

// ---------- page ----------

export default function TimelinesPage() {
  const timelines = useLoad(() => studio.listTimelines(), []);
  const cameras = useLoad(() => api.listCameras(), []);
  const overlays = useLoad(() => studio.listOverlays().catch(() => [] as Overlay[]), []);
  const [player, setPlayer] = useState<PlayerStatus | null>(null);
  const [editingId, setEditingId] = useState<string | null>(null);
  const programs = useLivePrograms();
  const streams = useLiveStreams();
  const destinations = useLoad(() => api.listDestinations(), []);
  const [starting, setStarting] = useState<{ timeline: Timeline; program: Program | null; disabled: Camera[] } | null>(
    null,
  );
  const [stopping, setStopping] = useState<{ timeline: Timeline; program: Program | null } | null>(null);
  const [after, setAfter] = useState<'keep' | 'slate' | 'stop'>('keep');

  const loadPlayer = useCallback(() => {
    studio
      .playerStatus()
      .then(setPlayer)
      .catch(() => undefined);
  }, []);
  useEffect(loadPlayer, [loadPlayer]);
  const { reload: reloadTimelines, setData: setTimelines } = timelines;
  const reloadCameras = cameras.reload;
  const reloadOverlays = overlays.reload;
  useEvents(
    {
      timeline_position: (d) => setPlayer(d as PlayerStatus),
      timeline_changed: () => void reloadTimelines(),
      camera_changed: () => void reloadCameras(),
      overlay_changed: () => void reloadOverlays(),
    },
    {
      onResync: () => {
        loadPlayer();
        void reloadTimelines();
      },
    },
  );

  const action = useRunner();
  const busy = action.busy;
  const error = action.error ? mapApiError(action.error, []).form : null;
  const run = async (fn: () => Promise<PlayerStatus>) => {
    const p = await action.run(fn);
    if (p) setPlayer(p);
  };

  const newTimeline = async () => {
    const base = 'New timeline';
    const names = new Set((timelines.data ?? []).map((t) => t.name));
    let name = base;
    for (let i = 2; names.has(name); i++) name = `${base} ${i}`;
    const created = await action.run(() =>
      studio.createTimeline({
        id: `tl-${Date.now().toString(36)}`,
        name,
        duration_ms: 60_000,
        playback: 'loop',
        destination_ids: [],
        tracks: [{ id: 'video', kind: 'video', name: 'Video', clips: [] }],
      }),
    );
    if (!created) return;
    setTimelines((prev) => upsert(prev, created));
    setEditingId(created.id ?? null);
  };

  const programList = programs.data ?? [];
  // Timelines play through the running program with the lowest id, else the first one, which
  // a start starts: say so, with where it goes, before anything goes on air.
  const askStart = async (t: Timeline) => {
    // Not loaded yet: ask now rather than start a program without saying so.
    const current = programs.data ?? (await action.run(() => studio.listPrograms()));
    if (!current) return;
    const through = timelineProgram(current);
    const used = new Set(
      t.tracks.flatMap((tr) => tr.clips).flatMap((c) => (c.source?.type === 'camera' ? [c.source.camera_id] : [])),
    );
    const disabled = (cameras.data ?? []).filter((c) => used.has(c.id) && !c.enabled);
    const program = through && !through.live ? through : null;
    if (program || disabled.length > 0) setStarting({ timeline: t, program, disabled });
    else void run(() => studio.startTimeline(t.id));
  };
  const confirmStart = async () => {
    if (!starting) return;
    if (starting.program) {
      const p = await action.run(() => studio.startProgram(starting.program!.id));
      if (!p) return;
      programs.settle(p);
    }
    await run(() => studio.startTimeline(starting.timeline.id));
    setStarting(null);
  };
  const askStop = (t: Timeline) => {
    const through = programList.filter((p) => p.live).sort((a, b) => a.id - b.id)[0] ?? null;
    setAfter('keep');
    setStopping({ timeline: t, program: through });
  };
  const confirmStop = async () => {
    if (!stopping) return;
    const stopped = await action.run(() => studio.stopTimeline(stopping.timeline.id));
    if (!stopped) return;
    setPlayer(stopped);
    const p = stopping.program;
    if (p && after === 'slate') {
      const r = await action.run(() => studio.slate(p.id));
      if (r) programs.settle(r);
    } else if (p && after === 'stop') {
      const r = await action.run(() => studio.stopProgram(p.id));
      if (r) programs.settle(r);
    }
    setStopping(null);
  };

  const del = useConfirmDelete((t: Timeline) => studio.deleteTimeline(t.id ?? ''), {
    onDeleted: (t) => {
      setTimelines((prev) => (prev ?? []).filter((x) => x.id !== t.id));
      if (editingId === t.id) setEditingId(null);
    },
  });

  if (timelines.loading && !timelines.data) return <LoadingState />;
  if (timelines.error && !timelines.data)
    return <Alert title="Cannot load timelines">{describeLoadError(timelines.error)}</Alert>;
  const list = timelines.data ?? [];
  const editing = list.find((t) => t.id === editingId) ?? null;
  const playingId = player?.state === 'playing' ? player.timeline_id : null;

  return (
    <div>
      <PageHeader
        title="Timelines"
        description="Camera shots and overlays on a schedule, played through the program."
        actions={
          <button type="button" className="min-h-11 btn-primary" onClick={() => void newTimeline()} disabled={busy}>
            New timeline
          </button>
        }
      />
      <OnAirBanner
        loading={!programs.data || !streams.data}
        lines={describeOnAir({
          programs: programList,
          streams: streams.data ?? [],
          destinations: destinations.data,
          cameras: cameras.data ?? [],
          player,
        })}
      />
      <ImportPanel
        cameras={cameras.data ?? []}
        onImported={(r) => {
          setTimelines((prev) => upsert(prev, r.timeline));
          if (r.created_cameras.length > 0) void cameras.reload();
        }}
      />
      {error && (
        <div className="mb-4">
          <Alert>{error}</Alert>
        </div>
      )}
      {list.length === 0 ? (
        <EmptyState title="No timelines yet" description="Import a VistterStudio file or start a new timeline." />
      ) : (
        <div className="card divide-y divide-slate-100">
          {list.map((t) => {
            const playing = playingId === t.id;
            const clips = t.tracks.reduce((n, tr) => n + tr.clips.length, 0);
            return (
              <div
                key={t.id}
                data-testid="timeline-row"
                className={`flex flex-wrap items-center gap-3 px-4 py-3 ${editingId === t.id ? 'bg-sky-50' : ''}`}
              >
                <div className="w-full min-w-0 flex-1 sm:w-auto">
                  <p className="font-medium">
                    {t.name}
                    {playing && (
                      <span className="ml-2 rounded bg-red-600 px-1.5 py-0.5 text-xs font-bold text-white">
                        PLAYING {formatMs(player!.position_ms)}
                      </span>
                    )}
                  </p>
                  <p className="text-xs text-slate-500">
                    {formatMs(t.duration_ms)} · {t.playback} · {t.tracks.length} tracks · {clips} clips
                    {(t.warnings?.length ?? 0) > 0 && (
                      <span className="text-amber-700"> · {t.warnings.length} warnings</span>
                    )}
                  </p>
                </div>
                {playing ? (
                  <button
                    type="button"
                    className="btn-danger btn-sm min-h-11"
                    disabled={busy}
                    onClick={() => askStop(t)}
                    aria-label={`Stop ${t.name}`}
                  >
                    Stop
                  </button>
                ) : (
                  <button
                    type="button"
                    className="btn-primary btn-sm min-h-11"
                    disabled={busy}
                    onClick={() => void askStart(t)}
                    aria-label={`Start ${t.name}`}
                  >
                    Start
                  </button>
                )}
                <button
                  type="button"
                  className="btn-secondary btn-sm min-h-11"
                  onClick={() => setEditingId(t.id)}
                  aria-label={`Edit ${t.name}`}
                >
                  Edit
                </button>
                <a
                  className="btn-ghost btn-sm min-h-11"
                  href={`/api/timelines/${encodeURIComponent(t.id)}/export`}
                  aria-label={`Export ${t.name}`}
                >
                  Export
                </a>
                <button
                  type="button"
                  className="btn-ghost btn-sm min-h-11"
                  disabled={playing}
                  onClick={() => del.ask(t)}
                  aria-label={`Delete ${t.name}`}
                >
                  Delete
                </button>
              </div>
            );
          })}
        </div>
      )}
      {editing && (
        <Editor
          key={editing.id}
          initial={editing}
          cameras={cameras.data ?? []}
          overlays={overlays.data ?? []}
          player={player}
          onClose={() => setEditingId(null)}
          onSaved={(s) => setTimelines((prev) => upsert(prev, s))}
        />
      )}
      {starting && (
        <ConfirmDialog
          title={`Start “${starting.timeline.name}”?`}
          message={
            <>
              {starting.program && (
                <p data-testid="start-program-note">
                  No program is on air. The timeline plays through the program “{starting.program.name}”, which starts
                  now and goes live on{' '}
                  <strong className="text-slate-900" data-testid="on-air-destinations">
                    {listWords(destinationNames(starting.program.destination_ids, destinations.data)) ||
                      'no destination'}
                  </strong>
                  .
                </p>
              )}
              {starting.disabled.length > 0 && (
                <p className="mt-2 text-amber-800">
                  Disabled cameras show the slate instead of a picture:{' '}
                  {listWords(starting.disabled.map((c) => c.name))}. Enable them on the Cameras page first.
                </p>
              )}
            </>
          }
          confirmLabel={starting.program ? 'Start program and timeline' : 'Start timeline'}
          busy={busy}
          error={error}
          onCancel={() => setStarting(null)}
          onConfirm={() => void confirmStart()}
        />
      )}
      {stopping && (
        <ConfirmDialog
          title={`Stop “${stopping.timeline.name}”?`}
          message={
            stopping.program ? (
              <fieldset className="space-y-2">
                <legend className="mb-2">
                  The program “{stopping.program.name}” stays on air unless you stop it too. Afterwards:
                </legend>
                {(
                  [
                    ['keep', 'Leave the program on air on the last camera'],
                    ['slate', 'Leave the program on air showing the slate'],
                    [
                      'stop',
                      `Stop the program too (${
                        listWords(destinationNames(stopping.program.destination_ids, destinations.data)) ||
                        'no destination'
                      } go${stopping.program.destination_ids.length === 1 ? 'es' : ''} off air)`,
                    ],
                  ] as const
                ).map(([value, label]) => (
                  <label key={value} className="flex min-h-11 items-center gap-2">
                    <input
                      type="radio"
                      name="after-stop"
                      value={value}
                      checked={after === value}
                      onChange={() => setAfter(value)}
                    />
                    {label}
                  </label>
                ))}
              </fieldset>
            ) : (
              'The timeline stops; no program is on air.'
            )
          }
          confirmLabel="Stop timeline"
          busy={busy}
          error={error}
          onCancel={() => setStopping(null)}
          onConfirm={() => void confirmStop()}
        />
      )}
      {del.target && (
        <ConfirmDialog
          title="Delete timeline"
          message={`Delete “${del.target.name}”?`}
          confirmLabel="Delete"
          {...del.dialog}
        />
      )}
    </div>
  );
}
