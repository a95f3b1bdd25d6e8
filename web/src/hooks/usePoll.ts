// A slow periodic reload for data the event stream does not carry (yet), paused while the tab
// is hidden; `enabled` turns it off once events make it unnecessary.

import { useEffect, useRef } from 'react';

/** Polls slower than this are the only ones pages keep: everything faster comes from events. */
export const FALLBACK_POLL_MS = 15_000;

export function usePoll(fn: () => unknown, intervalMs: number, enabled = true): void {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => {
    if (!enabled) return;
    const t = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') void latest.current();
    }, intervalMs);
    return () => window.clearInterval(t);
  }, [intervalMs, enabled]);
}
