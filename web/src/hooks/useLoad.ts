// Loads data for a page: value, error and a reload function; ignores answers that arrive late.

import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  /** The last value loaded (kept while a reload or a load for new deps is under way). */
  data: T | undefined;
  error: unknown;
  /** True until the answer for the current deps has arrived, and during a reload. */
  loading: boolean;
  reload: () => Promise<void>;
  setData: (update: T | ((prev: T | undefined) => T)) => void;
}

interface Result<T> {
  /** The deps this answer is for. */
  key: string | null;
  data: T | undefined;
  error: unknown;
}

/**
 * `deps` are what `load` reads (ids: primitives), checked at each call site by eslint's
 * exhaustive-deps rule (see eslint.config.js); the data is loaded again when one changes.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly (string | number | boolean | null | undefined)[],
): Loaded<T> {
  // The deps as one value: an effect's dependency list has to be written out, these are not.
  const key = JSON.stringify(deps);
  const [result, setResult] = useState<Result<T>>({ key: null, data: undefined, error: null });
  const [reloading, setReloading] = useState(false);
  const generation = useRef(0);
  const latest = useRef({ load, key });
  useEffect(() => {
    latest.current = { load, key };
  });

  const fetchData = useCallback((): Promise<void> => {
    const gen = ++generation.current;
    const { load: run, key: forKey } = latest.current;
    return run().then(
      (data) => {
        if (gen !== generation.current) return;
        setResult({ key: forKey, data, error: null });
        setReloading(false);
      },
      (error: unknown) => {
        if (gen !== generation.current) return;
        setResult((prev) => ({ key: forKey, data: prev.data, error }));
        setReloading(false);
      },
    );
  }, []);

  const reload = useCallback(() => {
    setReloading(true);
    return fetchData();
  }, [fetchData]);

  useEffect(() => {
    void fetchData();
  }, [fetchData, key]);

  const setData = useCallback((update: T | ((prev: T | undefined) => T)) => {
    setResult((prev) => ({
      ...prev,
      data: typeof update === 'function' ? (update as (p: T | undefined) => T)(prev.data) : update,
    }));
  }, []);

  return { data: result.data, error: result.error, loading: result.key !== key || reloading, reload, setData };
}
