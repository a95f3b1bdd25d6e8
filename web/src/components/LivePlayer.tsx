// Live camera video in the browser: fragmented MP4 from /api/cameras/{id}/live fed to Media
// Source Extensions. Falls back to the refreshing snapshot where MSE or the camera's codec
// (H.265 in most browsers) is not supported.

import { useEffect, useRef, useState } from 'react';
import Snapshot from './Snapshot';

interface Props {
  cameraId: number | string;
  alt: string;
  className?: string;
  /** Players sharing a group name play at most `groupLimit` at once; the oldest stops. */
  group?: string;
  groupLimit?: number;
  /** Snapshot refresh interval for the fallback. */
  intervalMs?: number;
  /** Called when the group limit stopped this player. */
  onStopped?: () => void;
}

// How far behind the newest frame the picture may drift before it jumps to the live edge.
const MAX_LAG_S = 1.0;
// Seconds of already-played video kept in the buffer (older ranges are removed so a tab left
// open for hours does not fill the browser's quota).
const KEEP_BEHIND_S = 6;

// Players of a group, oldest first, each with a callback that stops it. A Pi serves each
// playing tile a stream; the dashboard bounds how many play at once.
const groups = new Map<string, { id: symbol; stop: () => void }[]>();

function claimSlot(group: string, limit: number, id: symbol, stop: () => void) {
  const list = groups.get(group) ?? [];
  list.push({ id, stop });
  while (list.length > limit) list.shift()!.stop();
  groups.set(group, list);
}

function releaseSlot(group: string, id: symbol) {
  const list = groups.get(group);
  if (list) groups.set(group, list.filter((s) => s.id !== id));
}

type Phase = 'connecting' | 'playing' | 'offline' | 'unsupported' | 'stopped';

export default function LivePlayer({ cameraId, alt, className = '', group, groupLimit = 4, intervalMs, onStopped }: Props) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [phase, setPhase] = useState<Phase>(() =>
    typeof window !== 'undefined' && 'MediaSource' in window ? 'connecting' : 'unsupported',
  );
  const [running, setRunning] = useState(true);
  const stopped = useRef(onStopped);
  stopped.current = onStopped;

  useEffect(() => {
    if (!running || !('MediaSource' in window)) return;
    const video = videoRef.current;
    if (!video) return;
    let closed = false;
    let ws: WebSocket | null = null;
    let ms: MediaSource | null = null;
    let sb: SourceBuffer | null = null;
    let queue: ArrayBuffer[] = [];
    let reconnect: number | undefined;
    const slot = Symbol('live');
    if (group) claimSlot(group, groupLimit, slot, () => {
        setRunning(false);
        stopped.current?.();
      });

    // Appends one queued segment at a time (a SourceBuffer accepts no append while updating);
    // between appends, trims played video and jumps to the live edge.
    const pump = () => {
      if (!sb || sb.updating || !ms || ms.readyState !== 'open') return;
      const b = sb.buffered;
      if (b.length > 0) {
        const end = b.end(b.length - 1);
        const start = b.start(b.length - 1);
        if (end - video.currentTime > MAX_LAG_S || video.currentTime < start) {
          video.currentTime = Math.max(start, end - 0.2);
        }
        if (video.currentTime - b.start(0) > KEEP_BEHIND_S * 2) {
          sb.remove(0, video.currentTime - KEEP_BEHIND_S);
          return;
        }
      }
      const next = queue.shift();
      if (!next) return;
      try {
        sb.appendBuffer(next);
      } catch (e) {
        // Quota exceeded: drop what is buffered and continue from the next segment.
        if (b.length > 0) sb.remove(0, b.end(b.length - 1));
      }
    };

    // A new init (first connection or the camera back after an outage) starts a new
    // MediaSource: the new run's timestamps start again at zero.
    const init = (mime: string) => {
      if (!MediaSource.isTypeSupported(mime)) {
        setPhase('unsupported');
        closed = true;
        ws?.close();
        return;
      }
      queue = [];
      sb = null;
      const source = new MediaSource();
      ms = source;
      if (video.src) URL.revokeObjectURL(video.src);
      video.src = URL.createObjectURL(source);
      source.addEventListener('sourceopen', () => {
        if (ms !== source) return;
        sb = source.addSourceBuffer(mime);
        sb.mode = 'segments';
        sb.addEventListener('updateend', pump);
        pump();
      });
    };

    const connect = () => {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const socket = new WebSocket(`${proto}//${location.host}/api/cameras/${cameraId}/live`);
      ws = socket;
      socket.binaryType = 'arraybuffer';
      socket.onmessage = (ev) => {
        if (typeof ev.data === 'string') {
          const msg = JSON.parse(ev.data);
          if (msg.type === 'init') init(msg.mime);
          else if (msg.status === 'offline') setPhase('offline');
          else if (msg.status === 'online') setPhase('connecting');
          return;
        }
        queue.push(ev.data as ArrayBuffer);
        // A viewer that cannot keep up: drop the backlog rather than fall further behind.
        if (queue.length > 50) queue = queue.slice(-1);
        pump();
        if (video.paused) video.play().then(() => setPhase('playing'), () => undefined);
        else setPhase('playing');
      };
      socket.onclose = () => {
        if (closed) return;
        setPhase('connecting');
        reconnect = window.setTimeout(connect, 2000);
      };
    };
    connect();

    return () => {
      closed = true;
      if (reconnect !== undefined) window.clearTimeout(reconnect);
      ws?.close();
      if (group) releaseSlot(group, slot);
      if (video.src) URL.revokeObjectURL(video.src);
      video.removeAttribute('src');
      video.load();
    };
  }, [cameraId, running, group, groupLimit]);

  if (phase === 'unsupported' || !running) {
    return <Snapshot cameraId={cameraId} alt={alt} className={className} intervalMs={intervalMs} />;
  }
  // The snapshot stays underneath: it is the picture while connecting or offline, and it
  // refreshes rarely once the video plays.
  return (
    <div className={`relative overflow-hidden bg-slate-900 ${className}`}>
      <Snapshot
        cameraId={cameraId}
        alt={alt.replace(/^Live view/, 'Snapshot')}
        className="absolute inset-0 h-full w-full"
        intervalMs={phase === 'playing' ? 60_000 : intervalMs}
      />
      <video
        ref={videoRef}
        className={`absolute inset-0 h-full w-full object-contain ${phase === 'playing' ? 'bg-slate-900' : ''}`}
        muted
        autoPlay
        playsInline
        aria-label={alt}
        data-testid="live-video"
      />
      {phase !== 'playing' && (
        <div className="absolute inset-x-0 bottom-0 bg-slate-900/70 px-3 py-1.5 text-xs text-slate-100" data-testid="live-status">
          {phase === 'offline' ? 'Camera offline — waiting for it to return' : 'Connecting to live view…'}
        </div>
      )}
      <span className="absolute left-2 top-2 rounded bg-red-600 px-1.5 py-0.5 text-[10px] font-semibold text-white">
        LIVE
      </span>
    </div>
  );
}
