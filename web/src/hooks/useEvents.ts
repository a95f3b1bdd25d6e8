// Subscribes to the appliance's live event stream (SSE) and reconnects with backoff.

import { useEffect, useRef, useState } from 'react';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

type Handlers = Record<string, (data: unknown) => void>;

export function nextBackoff(previousMs: number): number {
  return Math.min(30_000, Math.max(1_000, previousMs * 2));
}

export function useEvents(handlers: Handlers, url = '/api/events'): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const latest = useRef(handlers);
  latest.current = handlers;
  const names = Object.keys(handlers).sort().join(',');

  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    let source: EventSource | null = null;
    let timer: number | undefined;
    let delay = 0;
    let stopped = false;

    const connect = () => {
      source = new EventSource(url, { withCredentials: true });
      source.onopen = () => {
        delay = 0;
        setState('live');
      };
      source.onerror = () => {
        // EventSource retries by itself after a dropped connection, but gives up for good on an
        // HTTP error (e.g. 404 before the backend has the route); we retry in both cases.
        setState('reconnecting');
        if (source && source.readyState === EventSource.CLOSED && !stopped) {
          source.close();
          delay = nextBackoff(delay);
          timer = window.setTimeout(connect, delay);
        }
      };
      for (const name of names.split(',').filter(Boolean)) {
        source.addEventListener(name, (ev) => {
          const raw = (ev as MessageEvent<string>).data;
          let data: unknown = raw;
          try {
            data = JSON.parse(raw);
          } catch {
            /* keep the raw text */
          }
          latest.current[name]?.(data);
        });
      }
    };
    connect();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
      source?.close();
    };
  }, [url, names]);

  return state;
}
