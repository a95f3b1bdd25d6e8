// The health of every camera, by id: loaded once, then kept current by `camera_health` events
// (the server publishes one whenever a camera's state or error changes).

import { useCallback, useEffect, useState } from 'react';
import { api, type CameraHealth } from '../api';
import { useEvents, type LiveState } from './useEvents';

export type HealthMap = Record<number, CameraHealth>;

export function useCameraHealth(): { health: HealthMap; live: LiveState } {
  const [health, setHealth] = useState<HealthMap>({});

  const load = useCallback(() => {
    api
      .camerasHealth()
      .then((list) => {
        const map: HealthMap = {};
        for (const h of list) map[h.camera_id] = h;
        setHealth(map);
      })
      .catch(() => {
        /* not available: the badges say "Unknown" */
      });
  }, []);
  useEffect(load, [load]);

  const live = useEvents(
    {
      camera_health: (data) => {
        const h = data as CameraHealth;
        if (h && typeof h.camera_id === 'number') setHealth((prev) => ({ ...prev, [h.camera_id]: h }));
      },
    },
    { onResync: load },
  );
  return { health, live };
}
