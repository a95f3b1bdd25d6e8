// The delete-with-confirmation flow every list page has: pick an item, confirm in a dialog that
// shows the server's refusal (e.g. 409 "in use") in words, close it once deleted.

import { useCallback, useState } from 'react';
import { mapApiError } from '../lib/errors';
import { useAction } from './useAction';

export interface ConfirmDelete<T> {
  /** The item waiting for confirmation; null when no dialog is open. */
  target: T | null;
  ask: (item: T) => void;
  cancel: () => void;
  /** Deletes `target`; on success calls onDeleted and closes the dialog, else keeps it open with the error. */
  confirm: () => Promise<void>;
  busy: boolean;
  /** The failure in words, for the dialog. */
  error: string | null;
  /** Spread into <ConfirmDialog>. */
  dialog: { busy: boolean; error: string | null; onConfirm: () => void; onCancel: () => void };
}

export interface ConfirmDeleteOptions<T> {
  onDeleted?: (item: T) => void;
  /** The failure in words; by default the server's message. */
  describe?: (err: unknown, item: T) => string | null;
}

export function useConfirmDelete<T>(
  remove: (item: T) => Promise<unknown>,
  { onDeleted, describe }: ConfirmDeleteOptions<T> = {},
): ConfirmDelete<T> {
  const [target, setTarget] = useState<T | null>(null);
  const action = useAction(async (item: T) => {
    await remove(item);
    return true as const;
  });
  const { run, reset } = action;

  const ask = useCallback(
    (item: T) => {
      reset();
      setTarget(item);
    },
    [reset],
  );
  const cancel = useCallback(() => {
    reset();
    setTarget(null);
  }, [reset]);

  const confirm = async () => {
    if (target === null) return;
    const item = target;
    if (await run(item)) {
      setTarget(null);
      onDeleted?.(item);
    }
  };

  const error =
    action.error && target !== null
      ? describe
        ? describe(action.error, target)
        : mapApiError(action.error, []).form
      : null;
  return {
    target,
    ask,
    cancel,
    confirm,
    busy: action.busy,
    error,
    dialog: { busy: action.busy, error, onConfirm: () => void confirm(), onCancel: cancel },
  };
}
