// @vitest-environment jsdom
import { act, renderHook } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import { useConfirmDelete } from './useConfirmDelete';

interface Item {
  id: number;
  name: string;
}
const harbor: Item = { id: 1, name: 'Harbor' };

describe('useConfirmDelete', () => {
  it('opens on ask, deletes on confirm, then closes and reports the deleted item', async () => {
    const remove = vi.fn(() => Promise.resolve());
    const onDeleted = vi.fn();
    const { result } = renderHook(() => useConfirmDelete(remove, { onDeleted }));
    expect(result.current.target).toBeNull();
    act(() => result.current.ask(harbor));
    expect(result.current.target).toBe(harbor);
    await act(() => result.current.confirm());
    expect(remove).toHaveBeenCalledWith(harbor);
    expect(onDeleted).toHaveBeenCalledWith(harbor);
    expect(result.current.target).toBeNull();
    expect(result.current.error).toBeNull();
  });

  it('keeps the dialog open with the server’s message when the delete is refused', async () => {
    const remove = vi.fn(() => Promise.reject(new ApiError(409, 'conflict', 'it is used by a stream')));
    const onDeleted = vi.fn();
    const { result } = renderHook(() => useConfirmDelete(remove, { onDeleted }));
    act(() => result.current.ask(harbor));
    await act(() => result.current.confirm());
    expect(result.current.target).toBe(harbor);
    expect(result.current.error).toBe('It is used by a stream');
    expect(result.current.dialog.error).toBe('It is used by a stream');
    expect(result.current.busy).toBe(false);
    expect(onDeleted).not.toHaveBeenCalled();
  });

  it('words the failure with `describe` when given, and forgets it on cancel and on the next ask', async () => {
    const { result } = renderHook(() =>
      useConfirmDelete((_: Item) => Promise.reject(new Error('x')), { describe: (_e, item) => `${item.name} stays` }),
    );
    act(() => result.current.ask(harbor));
    await act(() => result.current.confirm());
    expect(result.current.error).toBe('Harbor stays');
    act(() => result.current.cancel());
    expect(result.current.target).toBeNull();
    expect(result.current.error).toBeNull();
    act(() => result.current.ask(harbor));
    expect(result.current.error).toBeNull();
  });

  it('does nothing on confirm when nothing was asked', async () => {
    const remove = vi.fn(() => Promise.resolve());
    const { result } = renderHook(() => useConfirmDelete(remove));
    await act(() => result.current.confirm());
    expect(remove).not.toHaveBeenCalled();
  });
});
