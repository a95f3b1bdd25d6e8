// @vitest-environment jsdom
import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { useLoad } from './useLoad';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe('useLoad', () => {
  it('loads once, then keeps the value while a reload runs', async () => {
    let n = 0;
    const { result } = renderHook(() => useLoad(() => Promise.resolve(++n), []));
    expect(result.current.loading).toBe(true);
    await waitFor(() => expect(result.current.data).toBe(1));
    expect(result.current.loading).toBe(false);
    let done: Promise<void> | undefined;
    act(() => {
      done = result.current.reload();
    });
    expect(result.current.loading).toBe(true);
    expect(result.current.data).toBe(1);
    await act(() => done!);
    expect(result.current.data).toBe(2);
    expect(result.current.loading).toBe(false);
  });

  it('loads again when a dependency changes, and is loading until that answer is in', async () => {
    const load = vi.fn((id: number) => Promise.resolve(`camera ${id}`));
    const { result, rerender } = renderHook(({ id }) => useLoad(() => load(id), [id]), { initialProps: { id: 1 } });
    await waitFor(() => expect(result.current.data).toBe('camera 1'));
    rerender({ id: 2 });
    expect(result.current.loading).toBe(true);
    await waitFor(() => expect(result.current.data).toBe('camera 2'));
    expect(result.current.loading).toBe(false);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('ignores an answer that arrives after a newer one was asked for', async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const answers = [first.promise, second.promise];
    const { result } = renderHook(() => useLoad(() => answers.shift()!, []));
    let reloaded: Promise<void> | undefined;
    act(() => {
      reloaded = result.current.reload();
    });
    await act(async () => {
      second.resolve('new');
      await reloaded;
    });
    await act(async () => {
      first.resolve('old');
      await first.promise;
    });
    expect(result.current.data).toBe('new');
  });

  it('keeps the last value and reports the error of a failed reload', async () => {
    let fail = false;
    const { result } = renderHook(() =>
      useLoad(() => (fail ? Promise.reject(new Error('down')) : Promise.resolve('up')), []),
    );
    await waitFor(() => expect(result.current.data).toBe('up'));
    fail = true;
    await act(() => result.current.reload());
    expect(result.current.data).toBe('up');
    expect((result.current.error as Error).message).toBe('down');
    expect(result.current.loading).toBe(false);
  });

  it('lets the page change the value it shows', async () => {
    const { result } = renderHook(() => useLoad(() => Promise.resolve([1, 2]), []));
    await waitFor(() => expect(result.current.data).toEqual([1, 2]));
    act(() => result.current.setData((prev) => [...(prev ?? []), 3]));
    expect(result.current.data).toEqual([1, 2, 3]);
  });
});
