// Overlays drawn over the program: images (uploaded PNG/JPEG/SVG), text, a clock, or an image or
// text fetched from a URL. Positions are pixels of the 1920×1080 frame; they are placed by
// dragging their boxes on the program's picture (the running program's live preview, else a
// camera's snapshot, else a slate), and a new overlay starts where it overlaps no other.

import { useMemo, useState, type FormEvent } from 'react';
import LivePlayer from '../components/LivePlayer';
import { ConfirmDialog, Modal } from '../components/Modal';
import OverlayCanvas from '../components/OverlayCanvas';
import Snapshot from '../components/Snapshot';
import { Alert, EmptyState, LoadingState, PageHeader, TextField } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { useCameraHealth } from '../hooks/useCameraHealth';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { removeId, upsert } from '../lib/collections';
import { describeLoadError, mapApiError, NO_ERRORS } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { freeSpot, overlayRect } from '../lib/overlayGeometry';
import {
  api,
  OVERLAY_KINDS,
  studio,
  type Asset,
  type Camera,
  type Overlay,
  type OverlayDefinition,
  type OverlayInput,
  type OverlayKind,
  type Program,
} from '../api';

const FIELDS = [
  'name',
  'kind',
  'asset_id',
  'file',
  'x',
  'y',
  'width',
  'height',
  'opacity',
  'text',
  'font_size',
  'color',
  'background',
  'clock_format',
  'timezone',
  'url',
  'refresh_s',
  'json_pointer',
];
const ALIASES: Record<string, string> = Object.fromEntries(FIELDS.map((f) => [`definition.${f}`, f]));

type Draft = Record<string, string>;

function toDraft(o: Overlay | null, spot: { x: number; y: number } = { x: 40, y: 40 }): Draft {
  const d = o?.definition ?? {};
  const s = (v: string | number | null | undefined) => (v === undefined || v === null ? '' : String(v));
  return {
    x: s(d.x ?? spot.x),
    y: s(d.y ?? spot.y),
    width: s(d.width ?? 320),
    height: s(d.height ?? 120),
    opacity: s(d.opacity ?? 1),
    text: s(d.text),
    font_size: s(d.font_size),
    color: s(d.color),
    background: s(d.background),
    clock_format: s(d.clock_format ?? (o ? '' : '%H:%M')),
    timezone: s(d.timezone),
    url: s(d.url),
    refresh_s: s(d.refresh_s),
    json_pointer: s(d.json_pointer),
  };
}

const NUMERIC = new Set(['x', 'y', 'width', 'height', 'opacity', 'font_size', 'refresh_s']);
const BY_KIND: Record<OverlayKind, string[]> = {
  image: [],
  text: ['text', 'font_size', 'color', 'background'],
  clock: ['clock_format', 'timezone', 'font_size', 'color', 'background'],
  url_image: ['url', 'refresh_s'],
  url_text: ['url', 'refresh_s', 'json_pointer', 'font_size', 'color', 'background'],
};
const LABELS: Record<string, string> = {
  x: 'X',
  y: 'Y',
  width: 'Width',
  height: 'Height',
  opacity: 'Opacity',
  text: 'Text',
  font_size: 'Font size',
  color: 'Colour (#RRGGBB)',
  background: 'Background (#RRGGBBAA)',
  clock_format: 'Clock format',
  timezone: 'Time zone',
  url: 'URL',
  refresh_s: 'Refresh (s)',
  json_pointer: 'JSON pointer',
};
const HINTS: Record<string, string> = {
  clock_format: 'strftime, e.g. %H:%M or %a %d %b %H:%M:%S',
  timezone: 'e.g. Europe/Paris; empty: the appliance’s',
  json_pointer: 'e.g. /current/temperature (for a JSON answer)',
};

/** `#RRGGBB` of a colour field's value (the picker needs six digits), white when unreadable. */
function pickerValue(v: string | undefined, fallback: string): string {
  const m = /^#?([0-9a-fA-F]{6})/.exec((v ?? '').trim());
  return m ? `#${m[1].toLowerCase()}` : fallback;
}

function OverlayDialog({
  overlay,
  assets,
  spot,
  onSaved,
  onClose,
}: {
  overlay: Overlay | null;
  assets: Asset[];
  /** where a new overlay goes: a place that overlaps no other */
  spot?: { x: number; y: number };
  onSaved: (o: Overlay) => void;
  onClose: () => void;
}) {
  const [name, setName] = useState(overlay?.name ?? '');
  const [kind, setKind] = useState<OverlayKind>(overlay?.kind ?? 'text');
  const [draft, setDraft] = useState<Draft>(() => toDraft(overlay, spot));
  const [assetId, setAssetId] = useState<number | null>(overlay?.asset_id ?? null);
  const [assetList, setAssetList] = useState(assets);
  const uploadAction = useAction((file: File) => studio.uploadAsset(file));
  const save = useAction((body: OverlayInput) =>
    overlay ? studio.updateOverlay(overlay.id, body) : studio.createOverlay(body),
  );
  const uploading = uploadAction.busy;
  const busy = save.busy;
  // The latest failure of either, next to its field.
  const failed = save.error ?? uploadAction.error;
  const errors = failed ? mapApiError(failed, FIELDS, ALIASES) : NO_ERRORS;
  const fe = errors.fields;

  const upload = async (file: File | undefined) => {
    if (!file) return;
    save.reset();
    const a = await uploadAction.run(file);
    if (!a) return;
    setAssetList((prev) => upsert(prev, a));
    setAssetId(a.id);
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const def: Record<string, string | number> = {};
    for (const k of ['x', 'y', 'width', 'height', 'opacity', ...BY_KIND[kind]]) {
      const v = draft[k]?.trim() ?? '';
      if (v === '') continue;
      def[k] = NUMERIC.has(k) ? Number(v) : v;
    }
    const body: OverlayInput = {
      name: name.trim(),
      kind,
      asset_id: kind === 'image' ? assetId : null,
      definition: def,
    };
    uploadAction.reset();
    const saved = await save.run(body);
    if (saved) onSaved(saved);
  };

  const field = (k: string) => {
    const text = (
      <TextField
        key={k}
        id={`overlay-${k}`}
        label={LABELS[k]}
        value={draft[k] ?? ''}
        onChange={(e) => setDraft((d) => ({ ...d, [k]: e.target.value }))}
        error={fe[k]}
        hint={HINTS[k]}
        inputMode={NUMERIC.has(k) ? 'decimal' : undefined}
        className={k === 'color' || k === 'background' ? 'min-w-0 flex-1' : ''}
      />
    );
    if (k !== 'color' && k !== 'background') return text;
    // A picker beside the field: it sets the red, green and blue and keeps a typed alpha.
    const current = draft[k] ?? '';
    const alpha = k === 'background' ? (/^#?[0-9a-fA-F]{6}([0-9a-fA-F]{2})$/.exec(current.trim())?.[1] ?? '') : '';
    return (
      <div key={k} className="col-span-2 flex items-start gap-2 sm:col-span-1">
        {text}
        <div className="pt-6">
          <label htmlFor={`overlay-${k}-picker`} className="sr-only">
            {k === 'color' ? 'Pick the text colour' : 'Pick the background colour'}
          </label>
          <input
            id={`overlay-${k}-picker`}
            type="color"
            className="h-11 w-11 cursor-pointer rounded-lg border border-slate-300 bg-white p-1"
            value={pickerValue(current, k === 'color' ? '#ffffff' : '#000000')}
            onChange={(e) => setDraft((d) => ({ ...d, [k]: `${e.target.value.toUpperCase()}${alpha}` }))}
          />
        </div>
      </div>
    );
  };
  const asset = assetList.find((a) => a.id === assetId);

  return (
    <Modal title={overlay ? `Edit “${overlay.name}”` : 'New overlay'} onClose={onClose}>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="max-h-[70vh] space-y-4 overflow-y-auto pr-1">
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField
          id="overlay-name"
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={fe.name}
        />
        <div>
          <label htmlFor="overlay-kind" className="label">
            Kind
          </label>
          <select
            id="overlay-kind"
            className="input"
            value={kind}
            onChange={(e) => setKind(e.target.value as OverlayKind)}
          >
            {OVERLAY_KINDS.map((k) => (
              <option key={k.value} value={k.value}>
                {k.label}
              </option>
            ))}
          </select>
        </div>
        {kind === 'image' && (
          <div className="space-y-2">
            <label htmlFor="overlay-file" className="label">
              Image file (PNG, JPEG or SVG)
            </label>
            <input
              id="overlay-file"
              type="file"
              accept="image/png,image/jpeg,image/svg+xml"
              onChange={(e) => void upload(e.target.files?.[0])}
            />
            {uploading && <p className="hint">Uploading…</p>}
            {(fe.file || fe.asset_id) && <p className="field-error">{fe.file ?? fe.asset_id}</p>}
            {assetList.length > 0 && (
              <select
                aria-label="Stored image"
                className="input"
                value={assetId ?? ''}
                onChange={(e) => setAssetId(e.target.value ? Number(e.target.value) : null)}
              >
                <option value="">Choose a stored image…</option>
                {assetList.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name} ({formatBytes(a.size)})
                  </option>
                ))}
              </select>
            )}
            {asset && (
              <img
                src={asset.url}
                alt={`Image ${asset.name}`}
                className="max-h-24 rounded border border-slate-200 bg-[repeating-conic-gradient(#e2e8f0_0_25%,#fff_0_50%)] bg-[length:16px_16px]"
              />
            )}
          </div>
        )}
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">{BY_KIND[kind].map(field)}</div>
        <fieldset>
          <legend className="label">Position and size (pixels of the 1920×1080 frame)</legend>
          <div className="grid grid-cols-2 gap-2 sm:grid-cols-5">
            {['x', 'y', 'width', 'height', 'opacity'].map(field)}
          </div>
        </fieldset>
        <div className="flex justify-end gap-2 pt-2">
          <button type="button" className="btn-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={busy || uploading}>
            {busy ? 'Saving…' : overlay ? 'Save overlay' : 'Create overlay'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function describe(o: Overlay): string {
  const d = o.definition;
  const what =
    o.kind === 'text'
      ? `“${d.text ?? ''}”`
      : o.kind === 'clock'
        ? `${d.clock_format ?? '%H:%M'}${d.timezone ? ` (${d.timezone})` : ''}`
        : o.kind.startsWith('url')
          ? (d.url ?? '')
          : o.asset_id
            ? `asset #${o.asset_id}`
            : '';
  return `${what} · ${d.x ?? 0},${d.y ?? 0} ${d.width ?? '?'}×${d.height ?? '?'}${d.opacity != null && d.opacity !== 1 ? ` · ${Math.round(d.opacity * 100)} %` : ''}`;
}

/** What the canvas shows underneath: a running program's output, a camera's still, or a slate. */
type Picture = { kind: 'program'; program: Program } | { kind: 'camera'; camera: Camera } | { kind: 'slate' };

function pictureKey(p: Picture): string {
  return p.kind === 'program' ? `program:${p.program.id}` : p.kind === 'camera' ? `camera:${p.camera.id}` : 'slate';
}

function PictureUnder({ picture }: { picture: Picture }) {
  if (picture.kind === 'program')
    return (
      <LivePlayer
        key={picture.program.id}
        src={`/api/programs/${picture.program.id}/live`}
        kind="program"
        alt={`Live output of ${picture.program.name}`}
        className="h-full w-full"
        liveBadge={false}
      />
    );
  if (picture.kind === 'camera')
    return (
      <Snapshot
        cameraId={picture.camera.id}
        alt={`Snapshot of ${picture.camera.name}`}
        intervalMs={10000}
        className="h-full w-full"
      />
    );
  return (
    <div className="flex h-full w-full items-center justify-center bg-gradient-to-br from-slate-700 to-slate-900 text-sm text-slate-300">
      No program is running: the boxes show where the overlays go on air.
    </div>
  );
}

export default function OverlaysPage() {
  const overlays = useLoad(() => studio.listOverlays(), []);
  const assets = useLoad(() => studio.listAssets().catch(() => [] as Asset[]), []);
  const programs = useLoad(() => studio.listPrograms().catch(() => [] as Program[]), []);
  const cameras = useLoad(() => api.listCameras().catch(() => [] as Camera[]), []);
  const { health } = useCameraHealth();
  const [editing, setEditing] = useState<Overlay | 'new' | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [pictureChoice, setPictureChoice] = useState<string | null>(null);
  const [height, setHeight] = useState<number | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const del = useConfirmDelete((o: Overlay) => studio.deleteOverlay(o.id), {
    onDeleted: (o) => overlays.setData((prev) => removeId(prev, o.id)),
  });
  // Overlays changed elsewhere (another browser, a sync from VistterStudio).
  const reloadOverlays = overlays.reload;
  const reloadPrograms = programs.reload;
  useEvents(
    {
      overlay_changed: () => void reloadOverlays(),
      program_status: (data) => {
        // Only a start or a stop changes which pictures there are.
        const p = data as Partial<Program> | null;
        const known = (programs.data ?? []).find((x) => x.id === p?.id);
        if (!known || !p || Boolean(known.live) !== Boolean(p.live)) void reloadPrograms();
      },
    },
    { onResync: () => void reloadOverlays() },
  );

  const pictures = useMemo<Picture[]>(() => {
    const running = (programs.data ?? []).filter((p) => p.live);
    return [
      ...running.map((program) => ({ kind: 'program' as const, program })),
      // Cameras that answer first: their still is a picture to place things on.
      ...[...(cameras.data ?? [])]
        .sort((a, b) => Number(health[b.id]?.state === 'online') - Number(health[a.id]?.state === 'online'))
        .map((camera) => ({ kind: 'camera' as const, camera })),
      { kind: 'slate' as const },
    ];
  }, [programs.data, cameras.data, health]);
  const picture = pictures.find((p) => pictureKey(p) === pictureChoice) ?? pictures[0];
  const programHeight =
    height ?? (picture.kind === 'program' ? picture.program.height : (programs.data?.[0]?.height ?? 1080));

  const setOverlays = overlays.setData;
  const onMoved = async (o: Overlay, definition: OverlayDefinition) => {
    // Shown where it was dropped at once; put back if the appliance refuses.
    setOverlays((prev) => upsert(prev ?? [], { ...o, definition }));
    setSaveError(null);
    try {
      const saved = await studio.updateOverlay(o.id, { name: o.name, kind: o.kind, asset_id: o.asset_id, definition });
      setOverlays((prev) => upsert(prev ?? [], saved));
    } catch (err) {
      setOverlays((prev) => upsert(prev ?? [], o));
      setSaveError(`“${o.name}” could not be moved: ${describeLoadError(err)}`);
    }
  };

  if (overlays.loading && !overlays.data) return <LoadingState />;
  if (overlays.error && !overlays.data)
    return <Alert title="Cannot load overlays">{describeLoadError(overlays.error)}</Alert>;
  const list = overlays.data ?? [];
  const spot = freeSpot(
    320,
    120,
    list.map((o) => overlayRect(o, programHeight)),
  );
  const newButton = (
    <button type="button" className="btn-primary" onClick={() => setEditing('new')}>
      New overlay
    </button>
  );

  return (
    <div>
      <PageHeader
        title="Overlays"
        description="Logos, text, clocks and live data drawn over the program."
        actions={newButton}
      />
      {list.length > 0 && (
        <section className="card mb-6 p-4" aria-labelledby="overlay-canvas-heading">
          <div className="mb-3 flex flex-wrap items-end justify-between gap-3">
            <h2 id="overlay-canvas-heading" className="text-base font-semibold">
              On the picture
            </h2>
            <div className="flex flex-wrap gap-3">
              <div>
                <label htmlFor="overlay-picture" className="label">
                  Picture
                </label>
                <select
                  id="overlay-picture"
                  className="input"
                  value={pictureKey(picture)}
                  onChange={(e) => setPictureChoice(e.target.value)}
                >
                  {pictures.map((p) => (
                    <option key={pictureKey(p)} value={pictureKey(p)}>
                      {p.kind === 'program'
                        ? `Program “${p.program.name}” (live)`
                        : p.kind === 'camera'
                          ? `Camera “${p.camera.name}”`
                          : 'Slate'}
                    </option>
                  ))}
                </select>
              </div>
              <div>
                <label htmlFor="overlay-height" className="label">
                  Text size as on
                </label>
                <select
                  id="overlay-height"
                  className="input"
                  value={programHeight}
                  onChange={(e) => setHeight(Number(e.target.value))}
                >
                  {[...new Set([programHeight, 1080, 720, 480, 360])].map((h) => (
                    <option key={h} value={h}>
                      {h}p
                    </option>
                  ))}
                </select>
              </div>
            </div>
          </div>
          {saveError && (
            <div className="mb-3">
              <Alert>{saveError}</Alert>
            </div>
          )}
          <OverlayCanvas
            overlays={list}
            selectedId={selected}
            onSelect={setSelected}
            onChange={(o, d) => void onMoved(o, d)}
            programHeight={programHeight}
          >
            <PictureUnder picture={picture} />
          </OverlayCanvas>
        </section>
      )}
      {list.length === 0 ? (
        <EmptyState
          title="No overlays yet"
          description="Add a logo, a caption or a clock; show it from the Program page or a timeline."
          action={newButton}
        />
      ) : (
        <div className="card divide-y divide-slate-100">
          {list.map((o) => (
            <div
              key={o.id}
              data-testid="overlay-row"
              className={`flex flex-wrap items-center gap-3 px-4 py-3 ${o.id === selected ? 'bg-sky-50' : ''}`}
            >
              {o.kind === 'image' && o.asset_id ? (
                <img
                  src={`/api/assets/${o.asset_id}`}
                  alt=""
                  className="h-10 w-16 rounded bg-slate-100 object-contain"
                />
              ) : (
                <span className="flex h-10 w-16 items-center justify-center rounded bg-slate-100 text-xs text-slate-600">
                  {o.kind}
                </span>
              )}
              <div className="min-w-0 flex-1">
                <p className="font-medium">{o.name}</p>
                <p className="truncate text-xs text-slate-500">{describe(o)}</p>
              </div>
              <button
                type="button"
                className="btn-secondary btn-sm"
                onClick={() => setEditing(o)}
                aria-label={`Edit ${o.name}`}
              >
                Edit
              </button>
              <button
                type="button"
                className="btn-ghost btn-sm"
                onClick={() => del.ask(o)}
                aria-label={`Delete ${o.name}`}
              >
                Delete
              </button>
            </div>
          ))}
        </div>
      )}
      {editing && (
        <OverlayDialog
          overlay={editing === 'new' ? null : editing}
          assets={assets.data ?? []}
          spot={spot}
          onClose={() => setEditing(null)}
          onSaved={(o) => {
            overlays.setData((prev) => upsert(prev, o));
            void assets.reload();
            setEditing(null);
          }}
        />
      )}
      {del.target && (
        <ConfirmDialog
          title="Delete overlay"
          message={`Delete “${del.target.name}”?`}
          confirmLabel="Delete"
          {...del.dialog}
        />
      )}
    </div>
  );
}
