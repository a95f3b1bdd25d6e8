// Add or edit a destination: a platform and its stream key, or a custom RTMP/RTMPS/SRT server.

import { useState, type FormEvent } from 'react';
import { api, type Destination, type DestinationInput, type Platform } from '../api';
import { mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';
import { PLATFORMS, platformInfo, withSubject } from '../lib/streaming';
import { Modal } from './Modal';
import { Alert, TextField } from './ui';

const FIELDS = ['name', 'platform', 'url', 'stream_key', 'enabled', 'tls_verify'];

interface Props {
  destination: Destination | null;
  onSaved: (d: Destination) => void;
  onClose: () => void;
}

export default function DestinationDialog({ destination, onSaved, onClose }: Props) {
  const editing = destination !== null;
  const [platform, setPlatform] = useState<Platform>(destination?.platform ?? 'youtube');
  const [name, setName] = useState(destination?.name ?? '');
  const [url, setUrl] = useState(destination?.url ?? platformInfo('youtube').defaultUrl ?? '');
  const [key, setKey] = useState('');
  const [clearKey, setClearKey] = useState(false);
  const [enabled, setEnabled] = useState(destination?.enabled ?? true);
  const [tlsVerify, setTlsVerify] = useState(destination?.tls_verify ?? true);
  const [advanced, setAdvanced] = useState(() => {
    if (!destination || destination.platform === 'custom') return false;
    return destination.url !== platformInfo(destination.platform).defaultUrl;
  });
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  const info = platformInfo(platform);
  const custom = platform === 'custom';
  const hasStoredKey = editing && destination.has_stream_key;

  const choosePlatform = (p: Platform) => {
    const before = platformInfo(platform);
    const after = platformInfo(p);
    // Follow the platform's server unless the user typed their own.
    if (url.trim() === '' || url.trim() === before.defaultUrl) setUrl(after.defaultUrl ?? '');
    setPlatform(p);
    setErrors(NO_ERRORS);
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const trimmedUrl = url.trim();
    const body: DestinationInput = {
      name: name.trim(),
      platform,
      // For a platform, no URL (or its usual one) means "use the platform's ingest server".
      url: custom ? trimmedUrl : trimmedUrl === '' || trimmedUrl === info.defaultUrl ? null : trimmedUrl,
      enabled,
      tls_verify: tlsVerify,
    };
    if (clearKey) body.stream_key = '';
    else if (key.trim() !== '') body.stream_key = key.trim();
    else if (!editing) body.stream_key = null;
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const saved = editing ? await api.updateDestination(destination.id, body) : await api.createDestination(body);
      setKey('');
      onSaved(saved);
    } catch (err) {
      const mapped = mapApiError(err, FIELDS);
      if (mapped.fields.url && !custom) setAdvanced(true);
      setErrors(mapped);
    } finally {
      setBusy(false);
    }
  };

  const fe = errors.fields;
  const urlField = (
    <TextField
      id="destination-url"
      label="Server URL"
      value={url}
      onChange={(e) => setUrl(e.target.value)}
      error={withSubject('The URL', fe.url)}
      placeholder={custom ? 'rtmp://live.example.com/app' : (info.defaultUrl ?? '')}
      autoComplete="off"
      spellCheck={false}
      hint={
        custom
          ? 'rtmp://, rtmps:// or srt:// — without the stream key.'
          : `Leave as is to use ${info.label}’s ingest server.`
      }
    />
  );

  return (
    <Modal title={editing ? `Edit “${destination.name}”` : 'Add destination'} onClose={onClose}>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="space-y-5">
        {errors.form && <Alert>{errors.form}</Alert>}
        <fieldset>
          <legend className="label">Platform</legend>
          <div className="grid grid-cols-2 gap-2 sm:grid-cols-4">
            {PLATFORMS.map((p) => (
              <label
                key={p.value}
                className={`flex cursor-pointer items-center justify-center rounded-lg border px-3 py-2 text-sm font-medium transition focus-within:ring-2 focus-within:ring-sky-500 ${
                  platform === p.value
                    ? 'border-sky-500 bg-sky-50 text-sky-800 ring-1 ring-sky-500'
                    : 'border-slate-300 bg-white text-slate-700 hover:bg-slate-50'
                }`}
              >
                <input
                  type="radio"
                  name="platform"
                  value={p.value}
                  className="sr-only"
                  checked={platform === p.value}
                  onChange={() => choosePlatform(p.value)}
                />
                {p.label}
              </label>
            ))}
          </div>
          {fe.platform && <p className="field-error">{withSubject('The platform', fe.platform)}</p>}
        </fieldset>

        <TextField
          id="destination-name"
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={withSubject('The name', fe.name)}
          placeholder={custom ? 'Restreamer' : `${info.label} main channel`}
          autoComplete="off"
        />

        {custom && urlField}

        <TextField
          id="destination-key"
          label={custom ? 'Stream key (optional)' : 'Stream key'}
          type="password"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          error={withSubject('The stream key', fe.stream_key)}
          autoComplete="new-password"
          spellCheck={false}
          disabled={clearKey}
          placeholder={hasStoredKey ? '•••••••• (stored)' : ''}
          hint={
            hasStoredKey
              ? 'A key is stored. Leave blank to keep it; it is never shown again.'
              : `${info.keyHelp} Stored encrypted and never shown again.`
          }
        />
        {hasStoredKey && custom && (
          <div className="flex items-center gap-2">
            <input
              id="destination-clear-key"
              type="checkbox"
              className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
              checked={clearKey}
              onChange={(e) => {
                setClearKey(e.target.checked);
                setKey('');
              }}
            />
            <label htmlFor="destination-clear-key" className="text-sm text-slate-700">
              Remove the stored key
            </label>
          </div>
        )}

        {!custom && (
          <details
            open={advanced}
            onToggle={(e) => setAdvanced((e.target as HTMLDetailsElement).open)}
            className="rounded-lg border border-slate-200 px-4 py-3"
          >
            <summary className="cursor-pointer select-none text-sm font-medium text-slate-700">
              Advanced: server URL
            </summary>
            <div className="mt-3">{urlField}</div>
          </details>
        )}

        <div className="flex items-center gap-2">
          <input
            id="destination-enabled"
            type="checkbox"
            className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
            checked={enabled}
            onChange={(e) => setEnabled(e.target.checked)}
          />
          <label htmlFor="destination-enabled" className="text-sm text-slate-700">
            Enabled (streams send to this destination)
          </label>
        </div>

        {url.trim().toLowerCase().startsWith('rtmps://') && (
          <div>
            <div className="flex items-center gap-2">
              <input
                id="destination-tls-verify"
                type="checkbox"
                className="h-4 w-4 rounded border-slate-300 text-sky-600 focus:ring-sky-500"
                checked={tlsVerify}
                onChange={(e) => setTlsVerify(e.target.checked)}
              />
              <label htmlFor="destination-tls-verify" className="text-sm text-slate-700">
                Verify the server's TLS certificate
              </label>
            </div>
            {!tlsVerify && (
              <p className="mt-1 text-xs text-amber-700">
                Only for a test server with a self-signed certificate: without verification anyone on the way can pose
                as the server and read the stream key.
              </p>
            )}
          </div>
        )}

        <div className="flex justify-end gap-2 border-t border-slate-200 pt-4">
          <button type="button" className="btn-secondary" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save destination' : 'Add destination'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
