// The VistterStudio link's settings: the broker to connect to, this appliance's device id, its
// credentials (a password or a client certificate, both write-only), the broker's CA, and on/off.

import { useState, type FormEvent } from 'react';
import { request } from '../api/client';
import type { components } from '../api/schema';
import { LinkCounters, LinkStateBadge } from '../components/StudioLinkCard';
import { Alert, LoadingState, PageHeader, TextField } from '../components/ui';
import { useLoad } from '../hooks/useLoad';
import { FALLBACK_POLL_MS, usePoll } from '../hooks/usePoll';
import { describeLoadError, mapApiError, NO_ERRORS, sentence, type FormErrors } from '../lib/errors';

type LinkView = components['schemas']['LinkView'];
type LinkInput = components['schemas']['LinkInput'];

const FIELDS = [
  'broker_url',
  'device_id',
  'username',
  'password',
  'ca_cert_pem',
  'client_cert_pem',
  'client_key_pem',
  'metrics_interval_s',
] as const;

function PemField({
  id,
  label,
  value,
  onChange,
  error,
  hint,
  placeholder,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  hint: string;
  placeholder?: string;
}) {
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <textarea
        id={id}
        name={id}
        rows={4}
        spellCheck={false}
        className={`input font-mono text-xs ${error ? 'input-error' : ''}`}
        value={value}
        placeholder={placeholder ?? '-----BEGIN CERTIFICATE-----'}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-help`}
        onChange={(e) => onChange(e.target.value)}
      />
      <p id={`${id}-help`} className={error ? 'field-error' : 'hint'}>
        {error ?? hint}
      </p>
    </div>
  );
}

type LinkSettings = components['schemas']['LinkSettingsView'];

/** The form, started from the stored settings (a new one after each save: `key`). */
function LinkForm({ settings, onSaved }: { settings: LinkSettings; onSaved: (v: LinkView) => void }) {
  const [enabled, setEnabled] = useState(settings.enabled);
  const [brokerUrl, setBrokerUrl] = useState(settings.broker_url);
  const [deviceId, setDeviceId] = useState(settings.device_id);
  const [username, setUsername] = useState(settings.username ?? '');
  const [password, setPassword] = useState('');
  const [clearPassword, setClearPassword] = useState(false);
  const [caPem, setCaPem] = useState(settings.ca_cert_pem ?? '');
  const [certPem, setCertPem] = useState(settings.client_cert_pem ?? '');
  const [keyPem, setKeyPem] = useState('');
  const [metrics, setMetrics] = useState(String(settings.metrics_interval_s));
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    const body: LinkInput = {
      enabled,
      broker_url: brokerUrl,
      device_id: deviceId,
      username: username.trim() === '' ? null : username,
      // Absent keeps the stored secret, "" removes it.
      password: clearPassword ? '' : password === '' ? undefined : password,
      ca_cert_pem: caPem,
      client_cert_pem: certPem,
      client_key_pem: keyPem === '' ? undefined : keyPem,
      metrics_interval_s: Number(metrics),
    };
    try {
      onSaved(await request<LinkView>('PUT', '/api/link', body));
    } catch (err) {
      setErrors(mapApiError(err, FIELDS));
      setBusy(false);
    }
  }

  return (
    <form className="card space-y-5 p-5" onSubmit={(e) => void submit(e)} noValidate>
      {errors.form && <Alert>{errors.form}</Alert>}
      <div className="flex items-center gap-2">
        <input
          id="link-enabled"
          type="checkbox"
          className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
          checked={enabled}
          onChange={(e) => setEnabled(e.target.checked)}
        />
        <label htmlFor="link-enabled" className="text-sm text-slate-700">
          Connect to the studio broker
        </label>
      </div>
      <TextField
        id="broker_url"
        label="Broker"
        value={brokerUrl}
        placeholder="mqtts://broker.example.com:8883"
        onChange={(e) => setBrokerUrl(e.target.value)}
        error={errors.fields.broker_url}
        hint="mqtts:// (TLS, the broker's certificate is verified) or mqtt:// for a broker on this machine."
      />
      <TextField
        id="device_id"
        label="Device id"
        value={deviceId}
        placeholder="marina-dock-1"
        onChange={(e) => setDeviceId(e.target.value)}
        error={errors.fields.device_id}
        hint="This appliance's name on the broker: letters, digits, '-', '_' and '.'."
      />
      <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
        <TextField
          id="username"
          label="User name"
          value={username}
          autoComplete="off"
          onChange={(e) => setUsername(e.target.value)}
          error={errors.fields.username}
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          value={password}
          autoComplete="new-password"
          disabled={clearPassword}
          placeholder={settings?.has_password ? 'Stored (leave empty to keep it)' : ''}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.fields.password}
          hint="Stored encrypted and never shown again."
        />
      </div>
      {settings?.has_password && (
        <div className="flex items-center gap-2">
          <input
            id="link-clear-password"
            type="checkbox"
            className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
            checked={clearPassword}
            onChange={(e) => {
              setClearPassword(e.target.checked);
              setPassword('');
            }}
          />
          <label htmlFor="link-clear-password" className="text-sm text-slate-700">
            Remove the stored password
          </label>
        </div>
      )}
      <PemField
        id="ca_cert_pem"
        label="Broker's CA certificate (PEM)"
        value={caPem}
        onChange={setCaPem}
        error={errors.fields.ca_cert_pem}
        hint="The CA that signed the broker's certificate. Empty: the system's root certificates."
      />
      <details className="rounded-lg border border-slate-200 px-4 py-3">
        <summary className="cursor-pointer select-none text-sm font-medium text-slate-700">
          Client certificate (for brokers that identify devices by certificate)
        </summary>
        <div className="mt-3 space-y-4">
          <PemField
            id="client_cert_pem"
            label="Client certificate (PEM)"
            value={certPem}
            onChange={setCertPem}
            error={errors.fields.client_cert_pem}
            hint="Empty removes the certificate and its key."
          />
          <PemField
            id="client_key_pem"
            label="Client key (PEM)"
            value={keyPem}
            onChange={setKeyPem}
            error={errors.fields.client_key_pem}
            placeholder={settings?.has_client_key ? 'Stored (leave empty to keep it)' : '-----BEGIN PRIVATE KEY-----'}
            hint="Stored encrypted and never shown again."
          />
        </div>
      </details>
      <TextField
        id="metrics_interval_s"
        label="Metrics every (seconds)"
        type="number"
        min={1}
        max={3600}
        value={metrics}
        onChange={(e) => setMetrics(e.target.value)}
        error={errors.fields.metrics_interval_s}
        className="max-w-xs"
      />
      <div className="flex justify-end border-t border-slate-200 pt-4">
        <button type="submit" className="btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

export default function StudioLink() {
  const view = useLoad(() => request<LinkView>('GET', '/api/link'), []);
  usePoll(view.reload, FALLBACK_POLL_MS);
  const [saved, setSaved] = useState(false);

  const settings = view.data?.settings;
  const status = view.data?.status;
  return (
    <>
      <PageHeader
        title="VistterStudio link"
        description="Connect this appliance to a studio's MQTT broker, so the studio can drive it from anywhere. The appliance connects out: nothing needs to reach it."
      />
      {!view.data && view.loading ? (
        <LoadingState label="Loading the link settings…" />
      ) : !view.data ? (
        <Alert>{describeLoadError(view.error)}</Alert>
      ) : (
        <div className="space-y-6">
          {status && (
            <section className="card p-5" aria-label="Link state">
              <div className="flex flex-wrap items-center justify-between gap-3">
                <p className="text-sm text-slate-700">
                  {status.state === 'disabled'
                    ? 'The link is off.'
                    : `${status.device_id ?? ''} on ${status.broker ?? ''}${
                        status.connected_since
                          ? `, connected since ${new Date(status.connected_since).toLocaleString()}`
                          : ''
                      }`}
                </p>
                <LinkStateBadge state={status.state} />
              </div>
              {status.state !== 'disabled' && <LinkCounters status={status} />}
              {status.last_error && status.state !== 'connected' && status.state !== 'disabled' && (
                <p className="mt-2 text-sm text-red-600">{sentence(status.last_error)}</p>
              )}
              {settings?.topics && (
                <p className="mt-3 text-xs text-slate-500">
                  Commands on <code>{settings.topics.cmd}</code>; replies on <code>{settings.topics.ack}</code>, events
                  on <code>{settings.topics.event}</code>, metrics on <code>{settings.topics.metrics}</code>, online /
                  offline on <code>{settings.topics.status}</code>.
                </p>
              )}
            </section>
          )}

          {saved && <Alert kind="success">Saved. The link connects again with these settings.</Alert>}
          {settings && (
            <LinkForm
              key={settings.updated_at ?? 'new'}
              settings={settings}
              onSaved={(v) => {
                view.setData(v);
                setSaved(true);
              }}
            />
          )}
        </div>
      )}
    </>
  );
}
