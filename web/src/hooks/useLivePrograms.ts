// The programs with their live status, kept current by `program_status` events (a Program, or
// {id} to refetch one). Until the first one arrives (or while the event stream is down) a slow
// poll stands in, and a take waiting for its camera's first frame is followed up until it is on
// air.

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, studio, type Program } from '../api';
import { eventId, removeId, upsert } from '../lib/collections';
import { useEvents } from './useEvents';
import { useLoad } from './useLoad';
import { FALLBACK_POLL_MS, usePoll } from './usePoll';

/** How often, and how many times, a pending take is asked about again. */
const PENDING_RECHECK_MS = 500;
const PENDING_RECHECKS = 20;

export function isProgram(data: unknown): data is Program {
  return (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as Program).id === 'number' &&
    typeof (data as Program).width === 'number' &&
    'live' in data
  );
}

export function useLivePrograms() {
  const programs = useLoad(() => studio.listPrograms(), []);
  const { setData, reload } = programs;
  const [pushed, setPushed] = useState(false);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const replace = useCallback((p: Program) => setData((prev) => upsert(prev, p)), [setData]);
  const remove = useCallback((id: number) => setData((prev) => removeId(prev, id)), [setData]);
  const refetch = useCallback(
    (id: number) =>
      studio.getProgram(id).then(
        (p) => {
          if (mounted.current) replace(p);
          return p;
        },
        (e) => {
          if (e instanceof ApiError && e.status === 404 && mounted.current) remove(id);
          return null;
        },
      ),
    [replace, remove],
  );

  const live = useEvents(
    {
      program_status: (data) => {
        setPushed(true);
        if (isProgram(data)) return replace(data);
        const id = eventId(data);
        if (typeof id === 'number') void refetch(id);
        else void reload();
      },
    },
    { onResync: () => void reload() },
  );
  const pushing = live === 'live' && pushed;
  usePoll(reload, FALLBACK_POLL_MS, !pushing);

  /** Takes the answer of an action; a take still waiting for its camera is asked about again. */
  const settle = useCallback(
    (p: Program) => {
      replace(p);
      if (pushing) return;
      let tries = 0;
      const recheck = (q: Program | null) => {
        if (!q || q.live?.pending_camera_id == null || ++tries > PENDING_RECHECKS || !mounted.current) return;
        window.setTimeout(() => void refetch(q.id).then(recheck), PENDING_RECHECK_MS);
      };
      recheck(p);
    },
    [replace, refetch, pushing],
  );

  return { ...programs, replace, remove, settle, live, pushing };
}
