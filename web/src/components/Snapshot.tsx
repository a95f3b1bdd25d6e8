// A camera still that refreshes itself; a calm placeholder when the camera cannot be read.

import { useEffect, useRef, useState } from 'react';
import { snapshotUrl, snapshotUrlSized } from '../api';
import { CameraIcon } from './ui';

interface Props {
  cameraId: number;
  alt: string;
  /** milliseconds between refreshes */
  intervalMs?: number;
  className?: string;
  /** ask the appliance for a picture this wide (thumbnails), instead of the camera's size */
  width?: number;
}

export default function Snapshot({ cameraId, alt, intervalMs = 5000, className = '', width }: Props) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  const [loading, setLoading] = useState(true);
  const alive = useRef(true);

  useEffect(() => {
    alive.current = true;
    let timer: number | undefined;
    let current: HTMLImageElement | null = null;

    // Load off-screen and swap when ready, so the tile never flashes empty between frames.
    const load = () => {
      if (document.visibilityState === 'hidden') {
        timer = window.setTimeout(load, intervalMs);
        return;
      }
      const url = width ? snapshotUrlSized(cameraId, width) : snapshotUrl(cameraId);
      const img = new Image();
      current = img;
      img.onload = () => {
        if (!alive.current || current !== img) return;
        setSrc(url);
        setFailed(false);
        setLoading(false);
        timer = window.setTimeout(load, intervalMs);
      };
      img.onerror = () => {
        if (!alive.current || current !== img) return;
        setFailed(true);
        setLoading(false);
        timer = window.setTimeout(load, intervalMs);
      };
      img.src = url;
    };
    load();
    return () => {
      alive.current = false;
      current = null;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [cameraId, intervalMs, width]);

  return (
    <div className={`relative overflow-hidden bg-slate-900 ${className}`}>
      {src && !failed ? (
        <img src={src} alt={alt} className="h-full w-full object-cover" />
      ) : (
        <div className="flex h-full w-full flex-col items-center justify-center gap-2 text-slate-400">
          <CameraIcon className="h-8 w-8" />
          <span className="text-xs">{loading ? 'Loading snapshot…' : 'No snapshot available'}</span>
        </div>
      )}
    </div>
  );
}
