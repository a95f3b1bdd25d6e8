// The VistterStudio link at a glance: connected or not, why not, messages in and out, and
// what waits for the broker. Shown on the dashboard; the settings are on the Studio link page.

import { Link } from 'react-router-dom';
import { request } from '../api/client';
import type { components } from '../api/schema';
import { useLoad } from '../hooks/useLoad';
import { FALLBACK_POLL_MS, usePoll } from '../hooks/usePoll';
import { sentence } from '../lib/errors';

export type LinkStatus = components['schemas']['LinkStatus'];

export function getLinkStatus(): Promise<LinkStatus> {
  return request<LinkStatus>('GET', '/api/link/status');
}

const STATE_LABEL: Record<LinkStatus['state'], string> = {
  disabled: 'Off',
  connecting: 'Connecting…',
  connected: 'Connected',
  error: 'Not connected',
};

const STATE_STYLE: Record<LinkStatus['state'], string> = {
  disabled: 'bg-slate-50 text-slate-600 ring-slate-400/30',
  connecting: 'bg-amber-50 text-amber-700 ring-amber-600/20',
  connected: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
  error: 'bg-red-50 text-red-700 ring-red-600/20',
};

export function LinkStateBadge({ state }: { state: LinkStatus['state'] }) {
  return (
    <span
      className={`inline-flex items-center rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset ${STATE_STYLE[state]}`}
      data-testid="studio-link-state"
    >
      {STATE_LABEL[state]}
    </span>
  );
}

/** The link's counters, as a short list. */
export function LinkCounters({ status }: { status: LinkStatus }) {
  return (
    <dl className="mt-3 grid grid-cols-2 gap-x-6 gap-y-1 text-xs text-slate-600 sm:grid-cols-4">
      <div>
        <dt className="inline text-slate-500">In </dt>
        <dd className="inline font-medium">{status.messages_in}</dd>
      </div>
      <div>
        <dt className="inline text-slate-500">Out </dt>
        <dd className="inline font-medium">{status.messages_out}</dd>
      </div>
      <div>
        <dt className="inline text-slate-500">Waiting </dt>
        <dd className="inline font-medium">{status.queue_length}</dd>
      </div>
      <div>
        <dt className="inline text-slate-500">Dropped </dt>
        <dd className={`inline font-medium ${status.dropped > 0 ? 'text-amber-700' : ''}`}>{status.dropped}</dd>
      </div>
    </dl>
  );
}

export default function StudioLinkCard() {
  const status = useLoad(getLinkStatus, []);
  usePoll(status.reload, FALLBACK_POLL_MS);
  const s = status.data;
  if (!s) return null;
  return (
    <Link
      to="/studio-link"
      className="card block p-5 transition hover:shadow-md focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
      data-testid="studio-link-summary"
    >
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div className="min-w-0">
          <p className="text-xs font-semibold uppercase tracking-wide text-slate-500">VistterStudio link</p>
          <p className="mt-1 truncate text-sm text-slate-700">
            {s.state === 'disabled' ? 'Not connected to a studio broker.' : `${s.device_id ?? ''} on ${s.broker ?? ''}`}
          </p>
        </div>
        <LinkStateBadge state={s.state} />
      </div>
      {s.state !== 'disabled' && <LinkCounters status={s} />}
      {s.last_error && s.state !== 'connected' && s.state !== 'disabled' && (
        <p className="mt-2 truncate text-xs text-red-600" title={sentence(s.last_error)}>
          {sentence(s.last_error)}
        </p>
      )}
    </Link>
  );
}
