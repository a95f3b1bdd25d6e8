// Add or edit a PTZ preset: name plus pan/tilt/zoom.

import { useState, type FormEvent } from 'react';
import { api, type Preset, type PresetInput } from '../api';
import { mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';
import { Modal } from './Modal';
import { Alert, TextField } from './ui';

const FIELDS = ['name', 'pan', 'tilt', 'zoom', 'settle_ms'];

interface Props {
  cameraId: number;
  preset: Preset | null;
  onSaved: (p: Preset) => void;
  onClose: () => void;
}

function parseNumber(value: string, min: number, max: number, label: string): number | string {
  const v = value.trim();
  if (v === '' || Number.isNaN(Number(v))) return `Enter a number for ${label}.`;
  const n = Number(v);
  if (n < min || n > max) return `${label[0].toUpperCase()}${label.slice(1)} must be between ${min} and ${max}.`;
  return n;
}

export default function PresetDialog({ cameraId, preset, onSaved, onClose }: Props) {
  const [name, setName] = useState(preset?.name ?? '');
  const [pan, setPan] = useState(String(preset?.pan ?? 0));
  const [tilt, setTilt] = useState(String(preset?.tilt ?? 0));
  const [zoom, setZoom] = useState(String(preset?.zoom ?? 0));
  const [settle, setSettle] = useState(
    preset?.settle_ms === null || preset?.settle_ms === undefined ? '' : String(preset.settle_ms),
  );
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const fields: Record<string, string> = {};
    const p = parseNumber(pan, -180, 180, 'pan');
    const t = parseNumber(tilt, -90, 90, 'tilt');
    const z = parseNumber(zoom, 0, 100, 'zoom');
    if (typeof p === 'string') fields.pan = p;
    if (typeof t === 'string') fields.tilt = t;
    if (typeof z === 'string') fields.zoom = z;
    let settleMs: number | null = null;
    if (settle.trim() !== '') {
      if (!/^\d+$/.test(settle.trim())) fields.settle_ms = 'Enter a whole number of milliseconds.';
      else settleMs = Number(settle.trim());
    }
    if (Object.keys(fields).length > 0) {
      setErrors({ fields, form: null });
      return;
    }
    const body: PresetInput = {
      name: name.trim(),
      pan: p as number,
      tilt: t as number,
      zoom: z as number,
      settle_ms: settleMs,
    };
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const saved = preset ? await api.updatePreset(preset.id, body) : await api.createPreset(cameraId, body);
      onSaved(saved);
    } catch (err) {
      setErrors(mapApiError(err, FIELDS));
    } finally {
      setBusy(false);
    }
  };

  const fe = errors.fields;
  return (
    <Modal title={preset ? `Edit preset “${preset.name}”` : 'Add preset'} onClose={onClose}>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="space-y-4">
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField
          id="preset-name"
          label="Preset name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={fe.name}
          placeholder="Marina overview"
        />
        <div className="grid grid-cols-3 gap-4">
          <TextField
            id="preset-pan"
            label="Pan (°)"
            inputMode="decimal"
            value={pan}
            onChange={(e) => setPan(e.target.value)}
            error={fe.pan}
            hint="−180 to 180"
          />
          <TextField
            id="preset-tilt"
            label="Tilt (°)"
            inputMode="decimal"
            value={tilt}
            onChange={(e) => setTilt(e.target.value)}
            error={fe.tilt}
            hint="−90 to 90"
          />
          <TextField
            id="preset-zoom"
            label="Zoom (%)"
            inputMode="decimal"
            value={zoom}
            onChange={(e) => setZoom(e.target.value)}
            error={fe.zoom}
            hint="0 to 100"
          />
        </div>
        <TextField
          id="preset-settle"
          label="Settle time (ms)"
          inputMode="numeric"
          value={settle}
          onChange={(e) => setSettle(e.target.value)}
          error={fe.settle_ms}
          hint="Optional: how long the camera needs to stop moving."
        />
        <div className="flex justify-end gap-2 pt-2">
          <button type="button" className="btn-secondary" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Saving…' : preset ? 'Save preset' : 'Add preset'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
