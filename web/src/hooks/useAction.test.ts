// @vitest-environment jsdom
import { act, renderHook } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { useAction } from './useAction';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('useAction', () => {
  it('is busy while the call runs and returns its result', async () => {
    const d = deferred<number>();
    const { result } = renderHook(() => useAction((n: number) => d.promise.then((v) => v + n)));
    expect(result.current.busy).toBe(false);
    let out: Promise<number | undefined> | undefined;
    act(() => {
      out = result.current.run(1);
    });
    expect(result.current.busy).toBe(true);
    await act(async () => {
      d.resolve(41);
      await out;
    });
    expect(await out).toBe(42);
    expect(result.current.busy).toBe(false);
    expect(result.current.error).toBeNull();
  });

  it('keeps what the call threw, resolves to undefined, and clears the error on the next run', async () => {
    const boom = new Error('refused');
    let fail = true;
    const { result } = renderHook(() => useAction(() => (fail ? Promise.reject(boom) : Promise.resolve('ok'))));
    let out: string | undefined = 'unset';
    await act(async () => {
      out = await result.current.run();
    });
    expect(out).toBeUndefined();
    expect(result.current.error).toBe(boom);
    expect(result.current.busy).toBe(false);

    fail = false;
    await act(async () => {
      out = await result.current.run();
    });
    expect(out).toBe('ok');
    expect(result.current.error).toBeNull();
  });

  it('stays busy until every overlapping run has finished', async () => {
    const first = deferred<void>();
    const second = deferred<void>();
    const calls = [first, second];
    const { result } = renderHook(() => useAction(() => calls.shift()!.promise));
    let p1: Promise<unknown> | undefined;
    let p2: Promise<unknown> | undefined;
    act(() => {
      p1 = result.current.run();
      p2 = result.current.run();
    });
    await act(async () => {
      first.resolve();
      await p1;
    });
    expect(result.current.busy).toBe(true);
    await act(async () => {
      second.resolve();
      await p2;
    });
    expect(result.current.busy).toBe(false);
  });

  it('calls the latest function passed to it', async () => {
    const { result, rerender } = renderHook(({ v }) => useAction(() => Promise.resolve(v)), { initialProps: { v: 1 } });
    rerender({ v: 2 });
    let out: number | undefined;
    await act(async () => {
      out = await result.current.run();
    });
    expect(out).toBe(2);
  });

  it('does not touch state after the page is gone', async () => {
    const d = deferred<void>();
    const { result, unmount } = renderHook(() => useAction(() => d.promise));
    let p: Promise<unknown> | undefined;
    act(() => {
      p = result.current.run();
    });
    unmount();
    d.reject(new Error('late'));
    await expect(p).resolves.toBeUndefined();
  });
});
