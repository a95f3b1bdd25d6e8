// The camera-to-destination streams with their live status, kept current by `stream_status`
// events (a Stream, or {id} to refetch one). Until the first one arrives (or while the event
// stream is down) a slow poll stands in.

import { useCallback, useState } from 'react';
import { ApiError, api, type Stream } from '../api';
import { byName, eventId, removeId, upsert } from '../lib/collections';
import { isStream } from '../lib/streaming';
import { useEvents } from './useEvents';
import { useLoad } from './useLoad';
import { FALLBACK_POLL_MS, usePoll } from './usePoll';

export function useLiveStreams() {
  const streams = useLoad(() => api.listStreams(), []);
  const { setData, reload } = streams;
  const [pushed, setPushed] = useState(false);

  const replace = useCallback((s: Stream) => setData((prev) => upsert(prev, s, byName)), [setData]);
  const remove = useCallback((id: number) => setData((prev) => removeId(prev, id)), [setData]);

  const live = useEvents(
    {
      stream_status: (data) => {
        setPushed(true);
        if (isStream(data)) return replace(data);
        const id = eventId(data);
        if (typeof id !== 'number') return void reload();
        api.getStream(id).then(replace, (e) => {
          if (e instanceof ApiError && e.status === 404) remove(id);
        });
      },
    },
    { onResync: () => void reload() },
  );
  usePoll(reload, FALLBACK_POLL_MS, live !== 'live' || !pushed);

  return { ...streams, replace, remove, live, pushed };
}
