// Add a camera, or edit one (`/cameras/:id/edit`), with a connection test before saving.

import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, PROTOCOLS, type Camera, type CameraInput, type CameraType, type Protocol, type TestResult } from '../api';
import TestResultBox from '../components/TestResultBox';
import { Alert, LoadingState, PageHeader, SelectField, TextField } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { describeLoadError, mapApiError, TEST_UNAVAILABLE, NO_ERRORS, type FormErrors } from '../lib/errors';
import { protocolFromAddress } from '../lib/format';

const FIELDS = ['name', 'type', 'protocol', 'address', 'username', 'password', 'onvif_host', 'onvif_port', 'enabled'];

interface FormState {
  name: string;
  type: CameraType;
  protocol: Protocol;
  address: string;
  username: string;
  password: string;
  clearPassword: boolean;
  onvifHost: string;
  onvifPort: string;
  enabled: boolean;
}

const EMPTY: FormState = {
  name: '',
  type: 'STATIC',
  protocol: 'RTSP',
  address: '',
  username: '',
  password: '',
  clearPassword: false,
  onvifHost: '',
  onvifPort: '',
  enabled: true,
};

function fromCamera(c: Camera): FormState {
  return {
    name: c.name,
    type: c.type,
    protocol: c.protocol,
    address: c.address,
    username: c.username ?? '',
    password: '',
    clearPassword: false,
    onvifHost: c.onvif_host ?? '',
    onvifPort: c.onvif_port === null || c.onvif_port === undefined ? '' : String(c.onvif_port),
    enabled: c.enabled !== false,
  };
}

export default function CameraForm() {
  const params = useParams();
  const id = Number(params.id);
  const editing = params.id !== undefined;
  const navigate = useNavigate();
  const [camera, setCamera] = useState<Camera | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [form, setForm] = useState<FormState>(EMPTY);
  // What the browser found wrong before asking the appliance; else the last failure of a test or a save.
  const [clientErrors, setClientErrors] = useState<FormErrors | null>(null);
  const [test, setTest] = useState<TestResult | null>(null);
  const testAction = useAction((body: CameraInput, saved: Camera | null) =>
    saved ? api.testCamera(saved.id) : api.testUnsavedCamera(body),
  );
  const save = useAction((body: CameraInput) => (editing ? api.updateCamera(id, body) : api.createCamera(body)));
  const errors =
    clientErrors ??
    (save.error
      ? mapApiError(save.error, FIELDS)
      : testAction.error
        ? mapApiError(testAction.error, FIELDS, {}, TEST_UNAVAILABLE)
        : NO_ERRORS);
  const saving = save.busy;
  const testing = testAction.busy;

  useEffect(() => {
    if (!editing) return;
    api
      .getCamera(id)
      .then((c) => {
        setCamera(c);
        setForm(fromCamera(c));
      })
      .catch(setLoadError);
  }, [editing, id]);

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setForm((f) => ({ ...f, [key]: value }));

  const onAddress = (value: string) => {
    const proto = protocolFromAddress(value);
    setForm((f) => ({ ...f, address: value, protocol: (proto as Protocol) ?? f.protocol }));
  };

  /** Builds the request body; returns field errors the browser can see without asking the appliance. */
  const buildBody = (): { body?: CameraInput; errors?: FormErrors } => {
    let port: number | null = null;
    if (form.type === 'PTZ' && form.onvifPort.trim() !== '') {
      const p = form.onvifPort.trim();
      if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
        return { errors: { fields: { onvif_port: 'Enter a port number between 1 and 65535.' }, form: null } };
      }
      port = Number(p);
    }
    const body: CameraInput = {
      name: form.name.trim(),
      type: form.type,
      protocol: form.protocol,
      address: form.address.trim(),
      username: form.username.trim() === '' ? null : form.username.trim(),
      onvif_host: form.type === 'PTZ' && form.onvifHost.trim() !== '' ? form.onvifHost.trim() : null,
      onvif_port: form.type === 'PTZ' ? port : null,
      enabled: form.enabled,
    };
    if (editing) {
      // null keeps the stored password, "" clears it.
      body.password = form.clearPassword ? '' : form.password !== '' ? form.password : null;
    } else if (form.password !== '') {
      body.password = form.password;
    }
    return { body };
  };

  const onTest = async () => {
    const built = buildBody();
    setClientErrors(built.errors ?? null);
    if (!built.body) return;
    save.reset();
    setTest(null);
    const body = built.body;
    const unchanged =
      camera &&
      body.password === null &&
      body.address === camera.address &&
      body.protocol === camera.protocol &&
      (body.username ?? null) === (camera.username ?? null);
    // A saved camera's stored password is only known to the appliance: test the saved camera then.
    const result = await testAction.run(body, unchanged ? camera : null);
    if (result) setTest(result);
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const built = buildBody();
    setClientErrors(built.errors ?? null);
    if (!built.body) return;
    testAction.reset();
    const saved = await save.run(built.body);
    if (!saved) return;
    navigate(editing ? `/cameras/${saved.id}` : '/cameras', { replace: true });
  };

  if (editing && !camera) {
    return loadError ? (
      <>
        <PageHeader
          title="Edit camera"
          breadcrumb={
            <Link to="/cameras" className="hover:text-slate-700">
              ← Cameras
            </Link>
          }
        />
        <Alert title="The camera could not be loaded">{describeLoadError(loadError)}</Alert>
      </>
    ) : (
      <LoadingState label="Loading camera…" />
    );
  }

  const fe = errors.fields;
  return (
    <>
      <PageHeader
        title={editing ? `Edit ${camera?.name}` : 'Add camera'}
        description={editing ? 'Change the camera’s connection settings.' : 'Connect an IP camera to this appliance.'}
        breadcrumb={
          <Link to={editing ? `/cameras/${id}` : '/cameras'} className="hover:text-slate-700">
            ← {editing ? camera?.name : 'Cameras'}
          </Link>
        }
      />
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="card max-w-3xl divide-y divide-slate-200">
        <div className="space-y-5 p-6">
          {errors.form && <Alert>{errors.form}</Alert>}
          <h2 className="text-base font-semibold">General</h2>
          <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
            <TextField
              id="name"
              label="Name"
              value={form.name}
              onChange={(e) => set('name', e.target.value)}
              error={fe.name}
              placeholder="Harbor entrance"
              className="sm:col-span-2"
            />
            <SelectField
              id="type"
              label="Type"
              value={form.type}
              onChange={(e) => set('type', e.target.value as CameraType)}
              error={fe.type}
              options={[
                { value: 'STATIC', label: 'Static (fixed view)' },
                { value: 'PTZ', label: 'PTZ (pan, tilt, zoom)' },
              ]}
            />
            <SelectField
              id="protocol"
              label="Protocol"
              value={form.protocol}
              onChange={(e) => set('protocol', e.target.value as Protocol)}
              error={fe.protocol}
              options={PROTOCOLS.map((p) => ({ value: p, label: p }))}
            />
            <TextField
              id="address"
              label="Address"
              value={form.address}
              onChange={(e) => onAddress(e.target.value)}
              error={fe.address}
              placeholder="rtsp://192.168.1.20:554/stream1"
              autoComplete="off"
              spellCheck={false}
              className="sm:col-span-2"
              hint="The stream URL. A user name and password written in the address are moved to the fields below."
            />
          </div>
        </div>

        <div className="space-y-5 p-6">
          <h2 className="text-base font-semibold">Credentials</h2>
          <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
            <TextField
              id="username"
              label="Username"
              value={form.username}
              onChange={(e) => set('username', e.target.value)}
              error={fe.username}
              autoComplete="off"
            />
            <TextField
              id="password"
              label="Password"
              type="password"
              value={form.password}
              onChange={(e) => set('password', e.target.value)}
              error={fe.password}
              autoComplete="new-password"
              disabled={form.clearPassword}
              placeholder={editing && camera?.has_password ? '••••••••' : ''}
              hint={
                editing
                  ? camera?.has_password
                    ? 'A password is stored. Leave blank to keep it.'
                    : 'No password is stored.'
                  : 'Stored encrypted; it is never shown again.'
              }
            />
          </div>
          {editing && camera?.has_password && (
            <div className="flex items-center gap-2">
              <input
                id="clear-password"
                type="checkbox"
                className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
                checked={form.clearPassword}
                onChange={(e) => setForm((f) => ({ ...f, clearPassword: e.target.checked, password: '' }))}
              />
              <label htmlFor="clear-password" className="text-sm text-slate-700">
                Clear the stored password
              </label>
            </div>
          )}
        </div>

        {form.type === 'PTZ' && (
          <div className="space-y-5 p-6">
            <div>
              <h2 className="text-base font-semibold">PTZ control (ONVIF)</h2>
              <p className="mt-1 text-sm text-slate-500">
                Where the camera answers ONVIF requests. Leave blank to use the stream’s host.
              </p>
            </div>
            <div className="grid grid-cols-1 gap-5 sm:grid-cols-3">
              <TextField
                id="onvif_host"
                label="ONVIF host"
                value={form.onvifHost}
                onChange={(e) => set('onvifHost', e.target.value)}
                error={fe.onvif_host}
                placeholder="192.168.1.20"
                className="sm:col-span-2"
                autoComplete="off"
              />
              <TextField
                id="onvif_port"
                label="ONVIF port"
                inputMode="numeric"
                value={form.onvifPort}
                onChange={(e) => set('onvifPort', e.target.value)}
                error={fe.onvif_port}
                placeholder="80"
              />
            </div>
          </div>
        )}

        <div className="space-y-4 p-6">
          <div className="flex items-center gap-2">
            <input
              id="enabled"
              type="checkbox"
              className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
              checked={form.enabled}
              onChange={(e) => set('enabled', e.target.checked)}
            />
            <label htmlFor="enabled" className="text-sm text-slate-700">
              Enabled (watch this camera’s health and allow streaming)
            </label>
          </div>
          {fe.enabled && <p className="field-error">{fe.enabled}</p>}
          {test && <TestResultBox result={test} />}
          <div className="flex flex-wrap items-center justify-between gap-3">
            <button type="button" className="btn-secondary" onClick={() => void onTest()} disabled={testing || saving}>
              {testing ? 'Testing connection…' : 'Test connection'}
            </button>
            <div className="flex gap-2">
              <Link to={editing ? `/cameras/${id}` : '/cameras'} className="btn-ghost">
                Cancel
              </Link>
              <button type="submit" className="btn-primary" disabled={saving}>
                {saving ? 'Saving…' : editing ? 'Save changes' : 'Add camera'}
              </button>
            </div>
          </div>
        </div>
      </form>
    </>
  );
}
