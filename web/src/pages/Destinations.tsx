// Where streams are sent: YouTube, Facebook, Twitch or a custom server; keys are write-only.

import { useState, type ReactNode } from 'react';
import {
  ApiError,
  api,
  studio,
  type Destination,
  type DestinationTest,
  type Program,
  type Stream,
  type UplinkLive,
} from '../api';
import DestinationDialog from '../components/DestinationDialog';
import { ConfirmDialog } from '../components/Modal';
import { PlatformBadge } from '../components/StreamBadges';
import UplinkBadge from '../components/UplinkBadge';
import { Alert, DestinationIcon, EmptyState, LoadingState, PageHeader } from '../components/ui';
import { useConfirmDelete } from '../hooks/useConfirmDelete';
import { useLoad } from '../hooks/useLoad';
import { byName, removeId, upsert } from '../lib/collections';
import { describeLoadError, mapApiError, sentence } from '../lib/errors';

function KeyState({ set }: { set: boolean }) {
  return set ? (
    <span className="inline-flex items-center gap-1.5 text-sm text-emerald-700" data-testid="key-state">
      <svg className="h-4 w-4" viewBox="0 0 20 20" fill="currentColor" aria-hidden="true">
        <path
          fillRule="evenodd"
          d="M16.7 5.3a1 1 0 010 1.4l-8 8a1 1 0 01-1.4 0l-4-4a1 1 0 111.4-1.4L8 12.58l7.3-7.3a1 1 0 011.4 0z"
          clipRule="evenodd"
        />
      </svg>
      Key set
    </span>
  ) : (
    <span className="text-sm text-slate-400" data-testid="key-state">
      No key
    </span>
  );
}

export default function Destinations() {
  const destinations = useLoad(() => api.listDestinations(), []);
  const streams = useLoad(() => api.listStreams().catch(() => [] as Stream[]), []);
  const programs = useLoad(() => studio.listPrograms().catch(() => [] as Program[]), []);
  const [editing, setEditing] = useState<Destination | 'new' | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [testing, setTesting] = useState<number | null>(null);
  const [tested, setTested] = useState<{ name: string; result: DestinationTest } | null>(null);

  // What the running streams and programs measure on each destination's uplink.
  const uplinks = (d: Destination): UplinkLive[] => [
    ...(streams.data ?? []).flatMap((s) =>
      s.status.outputs.filter((o) => o.destination_id === d.id && o.uplink).map((o) => o.uplink as UplinkLive),
    ),
    ...(programs.data ?? []).flatMap((p) =>
      (p.live?.outputs ?? []).filter((o) => o.destination_id === d.id && o.uplink).map((o) => o.uplink as UplinkLive),
    ),
  ];

  const test = async (d: Destination) => {
    setNotice(null);
    setTested(null);
    setTesting(d.id);
    try {
      setTested({ name: d.name, result: await api.testDestination(d.id) });
    } catch (err) {
      setTested({
        name: d.name,
        result: { ok: false, kind: 'local', message: mapApiError(err, []).form ?? 'The test could not run.' },
      });
    } finally {
      setTesting(null);
    }
  };

  const usedBy = (d: Destination): Stream[] => (streams.data ?? []).filter((s) => s.destination_ids.includes(d.id));

  const onSaved = (saved: Destination) => {
    const isNew = editing === 'new';
    destinations.setData((prev) => upsert(prev, saved, byName));
    setNotice(isNew ? `Destination “${saved.name}” was added.` : `Destination “${saved.name}” was saved.`);
    setEditing(null);
  };

  const del = useConfirmDelete((d: Destination) => api.deleteDestination(d.id), {
    onDeleted: (d) => {
      destinations.setData((prev) => removeId(prev, d.id));
      setNotice(`Destination “${d.name}” was deleted.`);
    },
    describe: (err, d) => {
      const users = usedBy(d);
      if (err instanceof ApiError && err.status === 409) return sentence(err.message);
      // The appliance should answer 409 here; say what is wrong in any case.
      if (users.length > 0)
        return `It is used by a stream (${users.map((s) => s.name).join(', ')}). Remove it from the stream first.`;
      return mapApiError(err, []).form;
    },
  });

  const list = destinations.data;
  const addButton = (label: string) => (
    <button
      type="button"
      className="btn-primary"
      onClick={() => {
        setNotice(null);
        setEditing('new');
      }}
    >
      {label}
    </button>
  );

  let body: ReactNode;
  if (list === undefined && destinations.loading) {
    body = <LoadingState label="Loading destinations…" />;
  } else if (destinations.error && !list) {
    body = <Alert title="Destinations could not be loaded">{describeLoadError(destinations.error)}</Alert>;
  } else if (!list || list.length === 0) {
    body = (
      <EmptyState
        icon={<DestinationIcon />}
        title="No destinations yet"
        description="A destination is where a stream goes: your YouTube, Facebook or Twitch channel (only its stream key is needed), or any RTMP, RTMPS or SRT server."
        action={addButton('Add your first destination')}
      />
    );
  } else {
    body = (
      <div className="card overflow-x-auto">
        <table className="min-w-full divide-y divide-slate-200">
          <thead className="bg-slate-50">
            <tr>
              <th scope="col" className="table-head">
                Name
              </th>
              <th scope="col" className="table-head">
                Platform
              </th>
              <th scope="col" className="table-head">
                Server URL
              </th>
              <th scope="col" className="table-head">
                Stream key
              </th>
              <th scope="col" className="table-head">
                Used by
              </th>
              <th scope="col" className="table-head">
                Uplink
              </th>
              <th scope="col" className="table-head text-right">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {list.map((d) => {
              const users = usedBy(d);
              return (
                <tr key={d.id} data-testid="destination-row">
                  <td className="table-cell font-medium text-slate-900">
                    {d.name}
                    {!d.enabled && (
                      <span className="ml-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs font-normal text-slate-500">
                        Disabled
                      </span>
                    )}
                  </td>
                  <td className="table-cell">
                    <PlatformBadge platform={d.platform} />
                  </td>
                  <td className="table-cell max-w-xs truncate font-mono text-xs" title={d.url}>
                    {d.url}
                  </td>
                  <td className="table-cell">
                    <KeyState set={d.has_stream_key} />
                  </td>
                  <td className="table-cell text-slate-500">
                    {users.length === 0 ? '—' : users.length === 1 ? users[0].name : `${users.length} streams`}
                  </td>
                  <td className="table-cell">
                    {uplinks(d).length === 0 ? (
                      <span className="text-slate-400">—</span>
                    ) : (
                      uplinks(d).map((u, i) => <UplinkBadge key={i} uplink={u} />)
                    )}
                  </td>
                  <td className="table-cell whitespace-nowrap text-right">
                    <button
                      type="button"
                      className="btn-ghost btn-sm"
                      onClick={() => void test(d)}
                      disabled={testing !== null}
                      aria-label={`Test ${d.name}`}
                      title="Publish a few seconds of test pattern to this destination"
                    >
                      {testing === d.id ? 'Testing…' : 'Test'}
                    </button>
                    <button
                      type="button"
                      className="btn-ghost btn-sm"
                      onClick={() => {
                        setNotice(null);
                        setEditing(d);
                      }}
                      aria-label={`Edit ${d.name}`}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="btn-ghost btn-sm text-red-600 hover:bg-red-50 hover:text-red-700"
                      onClick={() => del.ask(d)}
                      aria-label={`Delete ${d.name}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <>
      <PageHeader
        title="Destinations"
        description="Channels and servers that streams are sent to. Stream keys are stored encrypted and never shown again."
        actions={list && list.length > 0 ? addButton('Add destination') : undefined}
      />
      {notice && (
        <div className="mb-4">
          <Alert kind="success">{notice}</Alert>
        </div>
      )}
      {tested && (
        <div className="mb-4" data-testid="destination-test">
          {tested.result.ok ? (
            <Alert kind="success">
              Test of “{tested.name}”: {tested.result.message}
            </Alert>
          ) : (
            <Alert title={`Test of “${tested.name}” failed`}>{sentence(tested.result.message)}</Alert>
          )}
        </div>
      )}
      {body}
      {editing && (
        <DestinationDialog
          destination={editing === 'new' ? null : editing}
          onSaved={onSaved}
          onClose={() => setEditing(null)}
        />
      )}
      {del.target && (
        <ConfirmDialog
          title="Delete destination?"
          message={
            <>
              <p>
                <strong className="text-slate-900">{del.target.name}</strong> and its stored stream key will be deleted.
              </p>
              {usedBy(del.target).length > 0 && !del.error && (
                <p className="mt-2 text-amber-700">
                  It is used by{' '}
                  {usedBy(del.target)
                    .map((s) => `“${s.name}”`)
                    .join(', ')}
                  ; remove it from {usedBy(del.target).length === 1 ? 'that stream' : 'those streams'} first.
                </p>
              )}
            </>
          }
          confirmLabel="Delete destination"
          {...del.dialog}
        />
      )}
    </>
  );
}
