// Busy flag and error around an async call (a save, a start, a delete), so a page does not repeat
// the same setBusy / try / catch / finally for every button.

import { useCallback, useEffect, useRef, useState } from 'react';

export interface Action<A extends unknown[], R> {
  /** Runs the call; resolves to its result, or to undefined when it failed (see `error`). */
  run: (...args: A) => Promise<R | undefined>;
  /** True while at least one run is in flight. */
  busy: boolean;
  /** What the last run threw (null after a success or `reset`), as thrown: map it with mapApiError. */
  error: unknown;
  /** Sets the error by hand, e.g. a check done before calling the API. */
  setError: (error: unknown) => void;
  reset: () => void;
}

export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): Action<A, R> {
  const [pending, setPending] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(fn);
  const mounted = useRef(true);

  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(async (...args: A): Promise<R | undefined> => {
    setPending((n) => n + 1);
    setError(null);
    try {
      return await latest.current(...args);
    } catch (e) {
      // After a navigation away (a delete that leaves the page) there is nobody to tell.
      if (mounted.current) setError(e);
      return undefined;
    } finally {
      if (mounted.current) setPending((n) => n - 1);
    }
  }, []);

  const reset = useCallback(() => setError(null), []);

  return { run, busy: pending > 0, error, setError, reset };
}

export type Runner = Omit<Action<[], unknown>, 'run'> & {
  /** Runs any call under the one busy flag and error: for pages whose buttons share them. */
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
};

export function useRunner(): Runner {
  const action = useAction((fn: () => Promise<unknown>) => fn());
  const { run: runAny } = action;
  // Sound: the result is whatever `fn` resolved to.
  const run = useCallback(<T>(fn: () => Promise<T>) => runAny(fn) as Promise<T | undefined>, [runAny]);
  return { ...action, run };
}
