// @vitest-environment jsdom
import { renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { usePoll } from './usePoll';

describe('usePoll', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('calls the latest function every interval while enabled, and stops when disabled or gone', () => {
    const first = vi.fn();
    const second = vi.fn();
    const { rerender, unmount } = renderHook(({ fn, on }) => usePoll(fn, 15_000, on), {
      initialProps: { fn: first, on: true },
    });
    vi.advanceTimersByTime(14_999);
    expect(first).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(first).toHaveBeenCalledTimes(1);
    rerender({ fn: second, on: true });
    vi.advanceTimersByTime(15_000);
    expect(second).toHaveBeenCalledTimes(1);
    rerender({ fn: second, on: false });
    vi.advanceTimersByTime(60_000);
    expect(second).toHaveBeenCalledTimes(1);
    rerender({ fn: second, on: true });
    unmount();
    vi.advanceTimersByTime(60_000);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('skips the calls while the tab is hidden', () => {
    const fn = vi.fn();
    const visibility = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    renderHook(() => usePoll(fn, 1000));
    vi.advanceTimersByTime(5000);
    expect(fn).not.toHaveBeenCalled();
    visibility.mockReturnValue('visible');
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
