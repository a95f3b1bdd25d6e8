// The appliance's journal: cameras going offline and back (with why), takes, the slate, destinations
// failing and reconnecting, logins; newest first, live from the event stream, filterable, and
// reachable filtered on one thing from wherever that thing shows an error (?subject=camera:3).

import { useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, type Camera, type JournalEntry } from '../api';
import { Alert, EmptyState, LoadingState, PageHeader } from '../components/ui';
import { useEvents } from '../hooks/useEvents';
import { useLoad } from '../hooks/useLoad';
import { describeLoadError } from '../lib/errors';
import { formatDateTime, formatRelative } from '../lib/format';
import {
  entryMatches,
  isJournalEntry,
  mergeEntries,
  parseSubject,
  SUBJECT_LABELS,
  type SeverityFilter,
} from '../lib/journal';

const SEVERITY_STYLES: Record<string, string> = {
  error: 'bg-red-50 text-red-700 ring-red-600/20',
  warning: 'bg-amber-50 text-amber-800 ring-amber-600/20',
  info: 'bg-slate-100 text-slate-600 ring-slate-500/20',
};

/** Where the thing an entry is about lives in the UI. */
function subjectLink(e: JournalEntry): string | null {
  if (e.subject_id == null) return null;
  switch (e.subject_type) {
    case 'camera':
      return `/cameras/${e.subject_id}`;
    case 'program':
      return '/program';
    case 'stream':
      return '/streams';
    case 'destination':
      return '/destinations';
    default:
      return null;
  }
}

export default function Events() {
  const [params, setParams] = useSearchParams();
  const subject = parseSubject(params.get('subject'));
  const severity = (params.get('severity') ?? 'all') as SeverityFilter;
  const type = subject?.type ?? params.get('type') ?? 'all';
  const [query, setQuery] = useState('');
  const entries = useLoad(() => api.recentEvents({ limit: 500 }), []);
  const cameras = useLoad(() => api.listCameras().catch(() => [] as Camera[]), []);
  const reload = entries.reload;
  const setEntries = entries.setData;
  const live = useEvents(
    {
      journal: (data) => {
        if (isJournalEntry(data)) setEntries((prev) => mergeEntries(prev ?? [], [data]));
      },
    },
    { onResync: () => void reload() },
  );

  const cameraNames = useMemo(() => new Map((cameras.data ?? []).map((c) => [c.id, c.name])), [cameras.data]);
  const nameOf = (e: JournalEntry) =>
    e.subject_name ?? (e.subject_type === 'camera' && e.subject_id != null ? cameraNames.get(e.subject_id) : undefined);

  const shown = useMemo(
    () =>
      (entries.data ?? []).filter((e) =>
        entryMatches(
          e,
          { subject, severity, type, query },
          (x) => x.subject_name ?? (x.subject_id != null ? cameraNames.get(x.subject_id) : undefined),
        ),
      ),
    [entries.data, subject, severity, type, query, cameraNames],
  );

  const setParam = (k: string, v: string | null) => {
    const next = new URLSearchParams(params);
    if (v === null || v === 'all') next.delete(k);
    else next.set(k, v);
    if (k === 'type') next.delete('subject');
    setParams(next, { replace: true });
  };

  const subjectName =
    subject &&
    (subject.type === 'camera'
      ? cameraNames.get(subject.id)
      : (entries.data ?? []).find((e) => e.subject_type === subject.type && e.subject_id === subject.id)?.subject_name);

  return (
    <div>
      <PageHeader
        title="Events"
        description="What happened on this appliance since it started: cameras, takes, the slate, destinations and logins. New events appear as they happen."
      />
      <div className="card mb-4 flex flex-wrap items-end gap-3 p-4" role="search" aria-label="Filter events">
        <div className="w-full sm:w-auto">
          <label htmlFor="events-severity" className="label">
            Severity
          </label>
          <select
            id="events-severity"
            className="input"
            value={severity}
            onChange={(e) => setParam('severity', e.target.value)}
          >
            <option value="all">All</option>
            <option value="error">Errors</option>
            <option value="warning">Warnings and errors</option>
            <option value="info">Information</option>
          </select>
        </div>
        <div className="w-full sm:w-auto">
          <label htmlFor="events-type" className="label">
            About
          </label>
          <select id="events-type" className="input" value={type} onChange={(e) => setParam('type', e.target.value)}>
            <option value="all">Everything</option>
            {Object.entries(SUBJECT_LABELS).map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="w-full sm:w-64">
          <label htmlFor="events-search" className="label">
            Search
          </label>
          <input
            id="events-search"
            className="input"
            type="search"
            value={query}
            placeholder="e.g. refused, YouTube"
            onChange={(e) => setQuery(e.target.value)}
          />
        </div>
        {subject && (
          <div className="flex items-center gap-2 text-sm" data-testid="events-subject">
            <span className="rounded-full bg-sky-50 px-3 py-1 text-sky-800 ring-1 ring-inset ring-sky-600/20">
              {SUBJECT_LABELS[subject.type]?.replace(/s$/, '') ?? subject.type}: {subjectName ?? `#${subject.id}`}
            </span>
            <button type="button" className="btn-ghost btn-sm" onClick={() => setParam('subject', null)}>
              Show everything
            </button>
          </div>
        )}
        <p className="ml-auto text-xs text-slate-500" aria-live="polite">
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </p>
      </div>

      {entries.data === undefined && entries.loading ? (
        <LoadingState label="Loading events…" />
      ) : entries.error && !entries.data ? (
        <Alert title="Events could not be loaded">{describeLoadError(entries.error)}</Alert>
      ) : shown.length === 0 ? (
        <EmptyState
          title={(entries.data ?? []).length === 0 ? 'Nothing has happened yet' : 'No event matches'}
          description={
            (entries.data ?? []).length === 0
              ? 'Cameras going offline, takes, destination errors and logins will be listed here.'
              : 'Change the filters to see more.'
          }
        />
      ) : (
        <ol className="card divide-y divide-slate-100" aria-label="Events, newest first">
          {shown.map((e) => {
            const link = subjectLink(e);
            const name = nameOf(e);
            const who = `${SUBJECT_LABELS[e.subject_type]?.replace(/s$/, '') ?? e.subject_type}${name ? ` “${name}”` : e.subject_id != null ? ` #${e.subject_id}` : ''}`;
            return (
              <li
                key={e.seq}
                className="flex flex-col gap-1 px-4 py-3 sm:flex-row sm:items-start sm:gap-4"
                data-testid="event-row"
                data-severity={e.severity}
                data-subject={`${e.subject_type}:${e.subject_id ?? ''}`}
              >
                <time
                  dateTime={e.at}
                  title={formatDateTime(e.at)}
                  className="shrink-0 text-xs tabular-nums text-slate-500 sm:w-28 sm:pt-0.5"
                >
                  {formatRelative(e.at)}
                </time>
                <span
                  className={`inline-flex w-fit shrink-0 items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${SEVERITY_STYLES[e.severity] ?? SEVERITY_STYLES.info}`}
                >
                  {e.severity}
                </span>
                <div className="min-w-0 flex-1 text-sm">
                  <p className="break-words text-slate-900">
                    {link ? (
                      <Link
                        to={link}
                        className="font-medium text-sky-800 underline underline-offset-2 hover:text-sky-900"
                      >
                        {who}
                      </Link>
                    ) : (
                      <span className="font-medium">{who}</span>
                    )}
                    : {e.message}
                  </p>
                  {e.context && <p className="text-xs text-slate-500">{e.context}</p>}
                </div>
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
