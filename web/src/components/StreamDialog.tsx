// Create or edit a stream: a camera (optionally at one of its presets) to one or more destinations.

import { useState, type FormEvent } from 'react';
import { api, type Camera, type Destination, type Preset, type Stream, type StreamInput } from '../api';
import { useLoad } from '../hooks/useLoad';
import { mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';
import { withSubject } from '../lib/streaming';
import { Modal } from './Modal';
import { PlatformBadge } from './StreamBadges';
import { Alert, SelectField, TextField } from './ui';

const FIELDS = ['name', 'camera_id', 'preset_id', 'destination_ids'];

interface Props {
  stream: Stream | null;
  cameras: Camera[];
  destinations: Destination[];
  onSaved: (s: Stream) => void;
  onClose: () => void;
}

export default function StreamDialog({ stream, cameras, destinations, onSaved, onClose }: Props) {
  const editing = stream !== null;
  const [name, setName] = useState(stream?.name ?? '');
  const [cameraId, setCameraId] = useState<string>(String(stream?.camera_id ?? cameras[0]?.id ?? ''));
  const [presetId, setPresetId] = useState<string>(
    stream?.preset_id === null || stream?.preset_id === undefined ? '' : String(stream.preset_id),
  );
  const [chosen, setChosen] = useState<Set<number>>(
    () => new Set(stream?.destination_ids ?? (destinations.length === 1 ? [destinations[0].id] : [])),
  );
  const presetsLoad = useLoad(() => (cameraId ? api.listPresets(Number(cameraId)) : Promise.resolve([])), [cameraId]);
  const presets: Preset[] | null = presetsLoad.loading ? null : presetsLoad.error ? [] : (presetsLoad.data ?? []);
  const presetsError =
    presetsLoad.error && !presetsLoad.loading ? 'The presets of this camera could not be loaded.' : null;
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  const camera = cameras.find((c) => String(c.id) === cameraId);

  const toggle = (id: number, on: boolean) =>
    setChosen((prev) => {
      const next = new Set(prev);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const fields: Record<string, string> = {};
    if (name.trim() === '') fields.name = 'Give the stream a name.';
    if (!cameraId) fields.camera_id = 'Choose a camera.';
    if (chosen.size === 0) fields.destination_ids = 'Choose at least one destination.';
    if (Object.keys(fields).length > 0) {
      setErrors({ fields, form: null });
      return;
    }
    // The selects hold strings; the API's ids are numbers.
    const body: StreamInput = {
      name: name.trim(),
      camera_id: Number(cameraId),
      preset_id: presetId === '' ? null : Number(presetId),
      destination_ids: destinations.filter((d) => chosen.has(d.id)).map((d) => d.id),
    };
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const saved = editing ? await api.updateStream(stream.id, body) : await api.createStream(body);
      onSaved(saved);
    } catch (err) {
      setErrors(mapApiError(err, FIELDS));
    } finally {
      setBusy(false);
    }
  };

  const fe = errors.fields;
  const presetOptions = [
    {
      value: '',
      label:
        presets === null ? 'Loading presets…' : presets.length === 0 ? 'No presets' : 'None (as the camera points)',
    },
    ...(presets ?? []).map((p) => ({ value: String(p.id), label: p.name })),
  ];
  // A preset chosen before that is not in the (loading) list must stay selectable.
  if (presetId !== '' && !presetOptions.some((o) => o.value === presetId))
    presetOptions.push({ value: presetId, label: `Preset ${presetId}` });

  return (
    <Modal title={editing ? `Edit “${stream.name}”` : 'Create stream'} onClose={onClose}>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="space-y-5">
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField
          id="stream-name"
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={withSubject('The name', fe.name)}
          placeholder="Harbor to YouTube"
          autoComplete="off"
        />
        <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
          <SelectField
            id="stream-camera"
            label="Camera"
            value={cameraId}
            onChange={(e) => {
              setCameraId(e.target.value);
              setPresetId('');
            }}
            error={withSubject('The camera', fe.camera_id)}
            options={cameras.map((c) => ({
              value: String(c.id),
              label: `${c.name}${c.enabled === false ? ' (disabled)' : ''}`,
            }))}
          />
          <div>
            <SelectField
              id="stream-preset"
              label="Preset (optional)"
              value={presetId}
              onChange={(e) => setPresetId(e.target.value)}
              error={withSubject('The preset', fe.preset_id)}
              disabled={presets === null || (presets.length === 0 && presetId === '')}
              options={presetOptions}
            />
            {!fe.preset_id && (
              <p className="hint">
                {presetsError ??
                  (camera?.type === 'PTZ'
                    ? 'The camera moves there before the stream starts.'
                    : 'Presets move PTZ cameras only.')}
              </p>
            )}
          </div>
        </div>
        <fieldset>
          <legend className="label">Destinations</legend>
          <div className="divide-y divide-slate-100 rounded-lg border border-slate-200">
            {destinations.map((d) => {
              const id = `stream-dest-${d.id}`;
              return (
                <label
                  key={d.id}
                  htmlFor={id}
                  className="flex cursor-pointer items-center gap-3 px-3 py-2.5 hover:bg-slate-50"
                >
                  <input
                    id={id}
                    type="checkbox"
                    className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
                    checked={chosen.has(d.id)}
                    onChange={(e) => toggle(d.id, e.target.checked)}
                  />
                  <span className="min-w-0 flex-1 truncate text-sm font-medium text-slate-800">{d.name}</span>
                  {!d.enabled && <span className="text-xs text-slate-400">disabled</span>}
                  <PlatformBadge platform={d.platform} />
                </label>
              );
            })}
          </div>
          {fe.destination_ids ? (
            <p className="field-error">{withSubject('Destinations', fe.destination_ids)}</p>
          ) : (
            <p className="hint">Each destination gets its own connection: one failing does not stop the others.</p>
          )}
        </fieldset>
        <div className="flex justify-end gap-2 border-t border-slate-200 pt-4">
          <button type="button" className="btn-secondary" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save stream' : 'Create stream'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
