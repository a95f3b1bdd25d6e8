// Listens to the appliance's live event stream (`/api/events`, one shared connection per page).
//
// Events the server publishes (crates/server/src/services; docs/architecture.md lists them):
// `camera_health` (a CameraHealth), `camera_session` (a CameraSessionView, every 2 s and at each
// state change), `camera_changed`, `overlay_changed`, `timeline_changed` ({id}),
// `timeline_position` (a PlayerStatus), `stream_status` (a Stream; {id} once deleted),
// `program_status` (a Program; {id} once deleted), `status` (a SystemStatus, every 5 s) and
// `lagged` (this client missed events). A running stream or program is pushed at every change
// and steadily (every 2 s / 1 s); pages poll slowly only until the first one or while the
// event stream is down.

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
