// The signed-in user's account: password and API tokens for machine clients.

import { useState, type FormEvent } from 'react';
import { api, type ApiToken, type NewApiToken } from '../api';
import { useAuth } from '../auth';
import { ConfirmDialog } from '../components/Modal';
import { Alert, LoadingState, PageHeader, TextField } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useLoad } from '../hooks/useLoad';
import { removeId, upsert } from '../lib/collections';
import { describeLoadError, mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';
import { formatDateTime, formatRelative } from '../lib/format';

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through to the old way */
  }
  // Appliances are often reached over plain http on the LAN, where the Clipboard API is missing.
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let ok: boolean;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  document.body.removeChild(area);
  return ok;
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);
  const change = useAction(() => api.changePassword(current, next).then(() => true as const));
  const busy = change.busy;
  const errors: FormErrors = mismatch
    ? { fields: { confirm_password: 'The new passwords do not match.' }, form: null }
    : change.error
      ? mapApiError(change.error, ['current_password', 'new_password', 'confirm_password'], {
          password: 'new_password',
        })
      : NO_ERRORS;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    setMismatch(next !== confirm);
    if (next !== confirm) return change.reset();
    if (!(await change.run())) return;
    setCurrent('');
    setNext('');
    setConfirm('');
    setDone(true);
  };

  return (
    <section aria-labelledby="password-heading" className="card">
      <div className="border-b border-slate-200 px-6 py-4">
        <h2 id="password-heading" className="text-base font-semibold">
          Change password
        </h2>
        <p className="mt-1 text-sm text-slate-500">Changing the password signs out your other sessions.</p>
      </div>
      <form onSubmit={(e) => void onSubmit(e)} noValidate className="space-y-4 p-6">
        {errors.form && <Alert>{errors.form}</Alert>}
        {done && <Alert kind="success">Your password was changed.</Alert>}
        <TextField
          id="current_password"
          label="Current password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          error={errors.fields.current_password}
        />
        <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
          <TextField
            id="new_password"
            label="New password"
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.target.value)}
            error={errors.fields.new_password}
            hint="At least 8 characters."
          />
          <TextField
            id="confirm_password"
            label="Confirm new password"
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            error={errors.fields.confirm_password}
          />
        </div>
        <div className="flex justify-end">
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Changing…' : 'Change password'}
          </button>
        </div>
      </form>
    </section>
  );
}

function NewTokenBox({ token, onDone }: { token: NewApiToken; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <div className="rounded-lg border border-amber-200 bg-amber-50 p-4" data-testid="new-token">
      <p className="text-sm font-semibold text-amber-900">Copy the token “{token.name}” now</p>
      <p className="mt-1 text-sm text-amber-800">
        It is shown only once. Send it as{' '}
        <code className="rounded bg-amber-100 px-1 py-0.5 font-mono text-xs">Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <div className="mt-3 flex flex-col gap-2 sm:flex-row">
        <label htmlFor="new-token-value" className="sr-only">
          New API token
        </label>
        <input
          id="new-token-value"
          readOnly
          value={token.token}
          onFocus={(e) => e.currentTarget.select()}
          className="input flex-1 font-mono text-xs"
        />
        <button type="button" className="btn-secondary" onClick={() => void copyText(token.token).then(setCopied)}>
          {copied ? 'Copied' : 'Copy token'}
        </button>
        <button type="button" className="btn-ghost" onClick={onDone}>
          Done
        </button>
      </div>
      {copied === false && (
        <p className="mt-2 text-xs text-amber-800">Copy failed: select the token and copy it by hand.</p>
      )}
    </div>
  );
}

function ApiTokens() {
  const tokens = useLoad(() => api.listTokens(), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<NewApiToken | null>(null);
  const create = useAction((tokenName: string) => api.createToken(tokenName));
  const busy = create.busy;
  const errors = create.error ? mapApiError(create.error, ['name'], { token_name: 'name' }) : NO_ERRORS;
  const revoke = useConfirmDelete((t: ApiToken) => api.revokeToken(t.id), {
    onDeleted: (t) => {
      tokens.setData((prev) => removeId(prev, t.id));
      if (created?.id === t.id) setCreated(null);
    },
  });

  const onCreate = async (e: FormEvent) => {
    e.preventDefault();
    const t = await create.run(name.trim());
    if (!t) return;
    setCreated(t);
    setName('');
    const { token: _secret, ...listed } = t;
    tokens.setData((prev) => upsert(prev, listed));
  };

  return (
    <section aria-labelledby="tokens-heading" className="card">
      <div className="border-b border-slate-200 px-6 py-4">
        <h2 id="tokens-heading" className="text-base font-semibold">
          API tokens
        </h2>
        <p className="mt-1 text-sm text-slate-500">
          Tokens let programs such as VistterStudio use this appliance’s API as you.
        </p>
      </div>
      <div className="space-y-5 p-6">
        <form onSubmit={(e) => void onCreate(e)} noValidate className="flex flex-col gap-3 sm:flex-row sm:items-start">
          <TextField
            id="token-name"
            label="Token name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            error={errors.fields.name}
            placeholder="VistterStudio laptop"
            className="flex-1"
          />
          <button type="submit" className="btn-primary sm:mt-6" disabled={busy}>
            {busy ? 'Creating…' : 'Create token'}
          </button>
        </form>
        {errors.form && <Alert>{errors.form}</Alert>}
        {created && <NewTokenBox token={created} onDone={() => setCreated(null)} />}
        {tokens.data === undefined && tokens.loading ? (
          <LoadingState label="Loading tokens…" />
        ) : tokens.error && !tokens.data ? (
          <Alert>{describeLoadError(tokens.error)}</Alert>
        ) : !tokens.data || tokens.data.length === 0 ? (
          <p className="rounded-lg border border-dashed border-slate-300 px-4 py-6 text-center text-sm text-slate-500">
            No API tokens yet.
          </p>
        ) : (
          <div className="overflow-x-auto rounded-lg border border-slate-200">
            <table className="min-w-full divide-y divide-slate-200">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className="table-head">
                    Name
                  </th>
                  <th scope="col" className="table-head">
                    Token
                  </th>
                  <th scope="col" className="table-head">
                    Created
                  </th>
                  <th scope="col" className="table-head">
                    Last used
                  </th>
                  <th scope="col" className="table-head">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {tokens.data.map((t) => (
                  <tr key={t.id} data-testid="token-row">
                    <td className="table-cell font-medium text-slate-900">{t.name}</td>
                    <td className="table-cell font-mono text-xs">{t.prefix}…</td>
                    <td className="table-cell">{formatDateTime(t.created_at)}</td>
                    <td className="table-cell" title={formatDateTime(t.last_used_at)}>
                      {formatRelative(t.last_used_at)}
                    </td>
                    <td className="table-cell text-right">
                      <button
                        type="button"
                        className="btn-ghost btn-sm text-red-600 hover:bg-red-50 hover:text-red-700"
                        onClick={() => revoke.ask(t)}
                        aria-label={`Revoke token ${t.name}`}
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {revoke.target && (
        <ConfirmDialog
          title="Revoke token?"
          message={
            <>
              Programs using <strong className="text-slate-900">{revoke.target.name}</strong> will lose access at once.
            </>
          }
          confirmLabel="Revoke token"
          {...revoke.dialog}
        />
      )}
    </section>
  );
}

export default function Account() {
  const { user } = useAuth();
  return (
    <>
      <PageHeader title="Account" description={`Signed in as ${user?.username ?? ''}.`} />
      <div className="max-w-3xl space-y-6">
        <ChangePassword />
        <ApiTokens />
      </div>
    </>
  );
}
