// Listens to the appliance's live event stream (`/api/events`, one shared connection per page).
//
// Events the server publishes (crates/server/src/controller): `camera_health` (a CameraHealth),
// `camera_changed`, `overlay_changed`, `timeline_changed` ({id}), `timeline_position` (a
// PlayerStatus), `status` (a SystemStatus, every 5 s) and `lagged` (this client missed events).
// Pages also listen for `stream_status` (a Stream) and `program_status` (a Program), which the
// server does not publish yet: until they arrive, those pages fall back to a slow poll.

import { useEffect, useRef, useState } from 'react';
import { hubFor, type LiveState } from '../lib/eventHub';

export type { LiveState } from '../lib/eventHub';

type Handlers = Record<string, (data: unknown) => void>;

export interface EventOptions {
  /**
   * Events may have been missed: after a reconnect (not the first connect: the page loads its
   * data itself) and on `lagged`. The page reloads what it shows.
   */
  onResync?: () => void;
  url?: string;
}

export function useEvents(handlers: Handlers, { onResync, url = '/api/events' }: EventOptions = {}): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const latest = useRef(handlers);
  const resync = useRef(onResync);
  useEffect(() => {
    latest.current = handlers;
    resync.current = onResync;
  });
  const names = Object.keys(handlers).sort().join(',');

  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    return hubFor(url).subscribe({
      names: names.split(',').filter(Boolean),
      onEvent: (name, data) => latest.current[name]?.(data),
      onState: setState,
      onResync: () => resync.current?.(),
    });
  }, [url, names]);

  return state;
}
