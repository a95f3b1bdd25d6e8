// YouTube broadcasts made by the appliance for one YouTube destination: the Google sign-in (a
// code to enter at google.com/device), the broadcast settings of each timeline's schedule
// windows, and the broadcasts made with their state and watch link. No token or client secret is
// ever shown: the API never returns them.

import { useState, type FormEvent } from 'react';
import { request, studio, type Asset, type Destination, type Timeline } from '../api';
import type { components } from '../api/schema';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { FALLBACK_POLL_MS, usePoll } from '../hooks/usePoll';
import { mapApiError } from '../lib/errors';
import { Alert, SelectField, TextField } from './ui';

type S = components['schemas'];
type YoutubeLink = S['YoutubeLink'];
type BroadcastSettings = S['BroadcastSettings'];
type BroadcastSettingsInput = S['BroadcastSettingsInput'];
type Broadcast = S['Broadcast'];
type Privacy = S['Privacy'];

const base = (id: number) => `/api/destinations/${id}/youtube`;

const STATE_TEXT: Record<YoutubeLink['state'], string> = {
  signed_out: 'Not signed in: the stream key is used as typed, no broadcast is made.',
  pending: 'Waiting for you to enter the code at Google…',
  linked: 'Signed in: a broadcast is made for each schedule window below.',
  needs_sign_in: 'Google no longer accepts the sign-in: sign in again.',
};

const BROADCAST_STYLE: Record<string, string> = {
  live: 'bg-red-100 text-red-700',
  waiting: 'bg-amber-100 text-amber-800',
  creating: 'bg-slate-100 text-slate-600',
  complete: 'bg-emerald-100 text-emerald-700',
  cancelled: 'bg-slate-100 text-slate-500',
  failed: 'bg-red-100 text-red-700',
};

const EMPTY: BroadcastSettingsInput = { title: '', description: '', privacy: 'unlisted', category_id: '' };

export default function YouTubeBroadcastPanel({ destination }: { destination: Destination }) {
  const id = destination.id;
  const link = useLoad(() => request<YoutubeLink>('GET', base(id)), [id]);
  const settings = useLoad(() => request<BroadcastSettings[]>('GET', `${base(id)}/settings`), [id]);
  const broadcasts = useLoad(() => request<Broadcast[]>('GET', `${base(id)}/broadcasts`), [id]);
  const timelines = useLoad(() => studio.listTimelines().catch((): Timeline[] => []), []);
  const assets = useLoad(() => studio.listAssets().catch((): Asset[] => []), []);
  const [clientId, setClientId] = useState('');
  const [clientSecret, setClientSecret] = useState('');
  const [timelineId, setTimelineId] = useState('');
  const [form, setForm] = useState<BroadcastSettingsInput>(EMPTY);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const mine = (data: unknown) => (data as { destination_id?: number } | null)?.destination_id === id;
  const live = useEvents(
    {
      youtube_link: (d) => mine(d) && void link.reload(),
      youtube_broadcast: (d) => mine(d) && void broadcasts.reload(),
    },
    { onResync: () => void Promise.all([link.reload(), broadcasts.reload()]) },
  );
  usePoll(() => Promise.all([link.reload(), broadcasts.reload()]), FALLBACK_POLL_MS, live !== 'live');

  const run = async (fn: () => Promise<unknown>, fields: string[] = []) => {
    setBusy(true);
    setError(null);
    setFieldErrors({});
    try {
      await fn();
    } catch (err) {
      const mapped = mapApiError(err, fields);
      setFieldErrors(mapped.fields);
      setError(mapped.form);
    } finally {
      setBusy(false);
    }
  };

  const signIn = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body = { client_id: clientId || link.data?.client_id || '', client_secret: clientSecret || null };
      link.setData(await request<YoutubeLink>('POST', `${base(id)}/sign-in`, body));
      setClientSecret('');
    }, ['client_id', 'client_secret']);
  };

  const signOut = () => void run(async () => link.setData(await request<YoutubeLink>('DELETE', base(id))));

  const edit = (s: BroadcastSettings) => {
    setTimelineId(s.timeline_id);
    setForm({
      title: s.title,
      description: s.description,
      privacy: s.privacy,
      category_id: s.category_id ?? '',
      thumbnail_asset_id: s.thumbnail_asset_id ?? null,
    });
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body = { ...form, category_id: form.category_id || null };
      await request<BroadcastSettings>('PUT', `${base(id)}/settings/${encodeURIComponent(timelineId)}`, body);
      await settings.reload();
      setForm(EMPTY);
      setTimelineId('');
    }, ['title', 'description', 'privacy', 'category_id', 'thumbnail_asset_id']);
  };

  const remove = (t: string) =>
    void run(async () => {
      await request<void>('DELETE', `${base(id)}/settings/${encodeURIComponent(t)}`);
      await settings.reload();
    });

  const l = link.data;
  const timelineName = (t: string) => timelines.data?.find((x) => x.id === t)?.name ?? t;

  return (
    <section
      className="card mt-6 p-5"
      data-testid="youtube-panel"
      aria-label={`YouTube broadcasts of ${destination.name}`}
    >
      <h2 className="text-base font-semibold text-slate-900">YouTube broadcasts — {destination.name}</h2>
      <p className="mt-1 text-sm text-slate-600" data-testid="youtube-state">
        {l ? STATE_TEXT[l.state] : 'Loading…'}
      </p>
      {l?.message && (
        <div className="mt-3">
          <Alert kind="warning">{l.message}</Alert>
        </div>
      )}
      {error && (
        <div className="mt-3">
          <Alert>{error}</Alert>
        </div>
      )}

      {l?.state === 'pending' && l.user_code && (
        <div className="mt-4 rounded-lg border border-sky-200 bg-sky-50 p-4 text-sky-900" data-testid="youtube-code">
          <p className="text-sm">
            On a phone or computer, open{' '}
            <a className="font-medium underline" href={l.verification_url ?? '#'} target="_blank" rel="noreferrer">
              {l.verification_url}
            </a>{' '}
            and enter this code:
          </p>
          <p className="mt-2 font-mono text-2xl font-bold tracking-widest">{l.user_code}</p>
        </div>
      )}

      {l &&
        (l.state === 'linked' ? (
          <button type="button" className="btn-secondary btn-sm mt-4" onClick={signOut} disabled={busy}>
            Sign out of YouTube
          </button>
        ) : (
          <form className="mt-4 grid gap-3 sm:grid-cols-3" onSubmit={signIn}>
            <TextField
              id={`yt-client-${id}`}
              label="OAuth client id"
              placeholder={l.client_id ?? '…apps.googleusercontent.com'}
              value={clientId}
              onChange={(e) => setClientId(e.target.value)}
              error={fieldErrors.client_id}
              hint='Client of type "TV and Limited Input devices"'
            />
            <TextField
              id={`yt-secret-${id}`}
              label="Client secret"
              type="password"
              autoComplete="off"
              placeholder={l.has_client_secret ? 'Stored (leave empty to keep)' : ''}
              value={clientSecret}
              onChange={(e) => setClientSecret(e.target.value)}
              error={fieldErrors.client_secret}
            />
            <div className="flex items-end">
              <button type="submit" className="btn-primary" disabled={busy}>
                Sign in with Google
              </button>
            </div>
          </form>
        ))}

      <h3 className="mt-6 text-sm font-semibold text-slate-900">Broadcast settings per timeline</h3>
      <ul className="mt-2 divide-y divide-slate-100 text-sm">
        {(settings.data ?? []).map((s) => (
          <li key={s.timeline_id} className="flex items-center justify-between py-2">
            <span>
              <strong>{timelineName(s.timeline_id)}</strong>: “{s.title}” ({s.privacy})
            </span>
            <span>
              <button type="button" className="btn-ghost btn-sm" onClick={() => edit(s)}>
                Edit
              </button>
              <button type="button" className="btn-ghost btn-sm text-red-600" onClick={() => remove(s.timeline_id)}>
                Remove
              </button>
            </span>
          </li>
        ))}
      </ul>
      <form className="mt-3 grid gap-3 sm:grid-cols-2" onSubmit={save}>
        <SelectField
          id={`yt-timeline-${id}`}
          label="Timeline (its schedule windows)"
          value={timelineId}
          onChange={(e) => setTimelineId(e.target.value)}
          options={[{ value: '', label: 'Choose a timeline' }].concat(
            (timelines.data ?? []).map((t) => ({ value: t.id ?? '', label: t.name })),
          )}
        />
        <TextField
          id={`yt-title-${id}`}
          label="Title"
          maxLength={100}
          value={form.title}
          onChange={(e) => setForm({ ...form, title: e.target.value })}
          error={fieldErrors.title}
        />
        <TextField
          id={`yt-description-${id}`}
          label="Description"
          value={form.description ?? ''}
          onChange={(e) => setForm({ ...form, description: e.target.value })}
          error={fieldErrors.description}
        />
        <SelectField
          id={`yt-privacy-${id}`}
          label="Privacy"
          value={form.privacy}
          onChange={(e) => setForm({ ...form, privacy: e.target.value as Privacy })}
          options={[
            { value: 'public', label: 'Public' },
            { value: 'unlisted', label: 'Unlisted' },
            { value: 'private', label: 'Private' },
          ]}
        />
        <TextField
          id={`yt-category-${id}`}
          label="Category id (optional)"
          placeholder="19 = Travel & Events"
          value={form.category_id ?? ''}
          onChange={(e) => setForm({ ...form, category_id: e.target.value })}
          error={fieldErrors.category_id}
        />
        <SelectField
          id={`yt-thumb-${id}`}
          label="Thumbnail"
          value={form.thumbnail_asset_id ? String(form.thumbnail_asset_id) : ''}
          onChange={(e) => setForm({ ...form, thumbnail_asset_id: e.target.value ? Number(e.target.value) : null })}
          error={fieldErrors.thumbnail_asset_id}
          options={[{ value: '', label: 'None' }].concat(
            (assets.data ?? []).map((a) => ({ value: String(a.id), label: a.name })),
          )}
        />
        <div>
          <button type="submit" className="btn-primary" disabled={busy || !timelineId}>
            Save broadcast settings
          </button>
        </div>
      </form>

      <h3 className="mt-6 text-sm font-semibold text-slate-900">Broadcasts made</h3>
      {(broadcasts.data ?? []).length === 0 ? (
        <p className="mt-2 text-sm text-slate-500">None yet: one is made when a timeline's schedule window opens.</p>
      ) : (
        <ul className="mt-2 divide-y divide-slate-100 text-sm" data-testid="youtube-broadcasts">
          {(broadcasts.data ?? []).map((b) => (
            <li key={b.id} className="flex flex-wrap items-center gap-3 py-2">
              <span className={`rounded px-2 py-0.5 text-xs font-medium ${BROADCAST_STYLE[b.state] ?? ''}`}>
                {b.state}
              </span>
              <span className="font-medium">{b.title}</span>
              <span className="text-slate-500">{timelineName(b.timeline_id)}</span>
              {b.watch_url && (
                <a className="text-sky-700 underline" href={b.watch_url} target="_blank" rel="noreferrer">
                  Watch on YouTube
                </a>
              )}
              {b.message && <span className="w-full text-amber-700">{b.message}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
