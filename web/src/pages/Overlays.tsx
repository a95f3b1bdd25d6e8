// Overlays drawn over the program: images (uploaded PNG/JPEG/SVG), text, a clock, or an image or
// text fetched from a URL. Positions are pixels of the 1920×1080 frame.

import { useState, type FormEvent } from 'react';
import { ConfirmDialog, Modal } from '../components/Modal';
import { Alert, EmptyState, LoadingState, PageHeader, TextField } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { removeId, upsert } from '../lib/collections';
import { describeLoadError, mapApiError, NO_ERRORS } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { OVERLAY_KINDS, studio, type Asset, type Overlay, type OverlayInput, type OverlayKind } from '../api';

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

function toDraft(o: Overlay | null): Draft {
  const d = o?.definition ?? {};
  const s = (v: string | number | null | undefined) => (v === undefined || v === null ? '' : String(v));
  return {
    x: s(d.x ?? 40),
    y: s(d.y ?? 40),
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

function OverlayDialog({
  overlay,
  assets,
  onSaved,
  onClose,
}: {
  overlay: Overlay | null;
  assets: Asset[];
  onSaved: (o: Overlay) => void;
  onClose: () => void;
}) {
  const [name, setName] = useState(overlay?.name ?? '');
  const [kind, setKind] = useState<OverlayKind>(overlay?.kind ?? 'text');
  const [draft, setDraft] = useState<Draft>(() => toDraft(overlay));
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

  const field = (k: string) => (
    <TextField
      key={k}
      id={`overlay-${k}`}
      label={LABELS[k]}
      value={draft[k] ?? ''}
      onChange={(e) => setDraft((d) => ({ ...d, [k]: e.target.value }))}
      error={fe[k]}
      hint={HINTS[k]}
      inputMode={NUMERIC.has(k) ? 'decimal' : undefined}
    />
  );
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
        <div className="grid grid-cols-2 gap-3">{BY_KIND[kind].map(field)}</div>
        <fieldset>
          <legend className="label">Position and size (pixels of the 1920×1080 frame)</legend>
          <div className="grid grid-cols-5 gap-2">{['x', 'y', 'width', 'height', 'opacity'].map(field)}</div>
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

export default function OverlaysPage() {
  const overlays = useLoad(() => studio.listOverlays(), []);
  const assets = useLoad(() => studio.listAssets().catch(() => [] as Asset[]), []);
  const [editing, setEditing] = useState<Overlay | 'new' | null>(null);
  const del = useConfirmDelete((o: Overlay) => studio.deleteOverlay(o.id), {
    onDeleted: (o) => overlays.setData((prev) => removeId(prev, o.id)),
  });
  // Overlays changed elsewhere (another browser, a sync from VistterStudio).
  const reloadOverlays = overlays.reload;
  useEvents({ overlay_changed: () => void reloadOverlays() }, { onResync: () => void reloadOverlays() });

  if (overlays.loading && !overlays.data) return <LoadingState />;
  if (overlays.error && !overlays.data)
    return <Alert title="Cannot load overlays">{describeLoadError(overlays.error)}</Alert>;
  const list = overlays.data ?? [];
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
      {list.length === 0 ? (
        <EmptyState
          title="No overlays yet"
          description="Add a logo, a caption or a clock; show it from the Program page or a timeline."
          action={newButton}
        />
      ) : (
        <div className="card divide-y divide-slate-100">
          {list.map((o) => (
            <div key={o.id} data-testid="overlay-row" className="flex items-center gap-3 px-4 py-3">
              {o.kind === 'image' && o.asset_id ? (
                <img
                  src={`/api/assets/${o.asset_id}`}
                  alt=""
                  className="h-10 w-16 rounded bg-slate-100 object-contain"
                />
              ) : (
                <span className="flex h-10 w-16 items-center justify-center rounded bg-slate-100 text-xs text-slate-500">
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
