// Live video in the browser: fragmented MP4 over a WebSocket fed to Media Source Extensions.
// Plays a camera (/api/cameras/{id}/live, with the refreshing snapshot underneath and as the
// fallback where MSE or the camera's codec — H.265 in most browsers — is not supported) or any
// other live path with the same protocol, e.g. a program's output (/api/programs/{id}/live).
//
// Protocol: text JSON {"type":"init","mime":…} then a binary init segment, then binary fMP4
// fragments; {"type":"status","status":"offline"|"online"} when the source is lost / returns
// (a new init follows a return); {"type":"ended","reason":…} just before the server closes:
// for a program, it stopped (the player stops too); for a camera, its settings changed or it
// was deleted (the player reconnects).

import { useEffect, useRef, useState, type ReactNode } from 'react';
import Snapshot from './Snapshot';
import { CameraIcon } from './ui';

interface Props {
  /** A camera: plays /api/cameras/{id}/live. */
  cameraId?: number;
  /** Any live path instead, e.g. `/api/programs/3/live`. */
  src?: string;
  /** What the path shows, for the status texts. Default: `camera` with `cameraId`, else `program`. */
  kind?: 'camera' | 'program';
  /** Show the camera's snapshot underneath and when the video cannot play (cameras only; default true). */
  fallback?: boolean;
  alt: string;
  className?: string;
  /** Players sharing a group name play at most `groupLimit` at once; the oldest stops. */
  group?: string;
  groupLimit?: number;
  /** Snapshot refresh interval for the fallback. */
  intervalMs?: number;
  /** Called when the group limit stopped this player. */
  onStopped?: () => void;
  /** `data-testid` of the <video> element. */
  videoTestId?: string;
  /** The red LIVE corner badge (default true). */
  liveBadge?: boolean;
  /** Drawn over the picture (badges). */
  children?: ReactNode;
  /** An unmute button while playing, when the stream has sound (default true). Players always
   * start muted. */
  sound?: boolean;
}

// How far behind the newest frame the picture may drift before it jumps to the live edge.
const MAX_LAG_S = 1.0;
// Seconds of already-played video kept in the buffer (older ranges are removed so a tab left
// open for hours does not fill the browser's quota).
const KEEP_BEHIND_S = 6;
// Reconnect delay after a dropped connection, and retry period while a program is not running
// (its socket is refused with 409 until it is).
const RECONNECT_MS = 2000;
// Segments waiting for the SourceBuffer beyond which a viewer that cannot keep up drops them.
// A camera's fragments are one frame each and a new viewer gets the GOP so far at once (up to a
// whole GOP: 60 and more at 30 fps), so this is well above a GOP.
const MAX_QUEUE = 300;
const NOT_RUNNING_RETRY_MS = 3000;

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
  if (list)
    groups.set(
      group,
      list.filter((s) => s.id !== id),
    );
}

type Phase = 'connecting' | 'playing' | 'offline' | 'unsupported' | 'not-running' | 'ended';

export default function LivePlayer({
  cameraId,
  src,
  kind,
  fallback = true,
  alt,
  className = '',
  group,
  groupLimit = 4,
  intervalMs,
  onStopped,
  videoTestId = 'live-video',
  liveBadge = true,
  children,
  sound,
}: Props) {
  const path = src ?? (cameraId !== undefined ? `/api/cameras/${encodeURIComponent(String(cameraId))}/live` : null);
  const what = kind ?? (cameraId !== undefined ? 'camera' : 'program');
  const withSnapshot = fallback && cameraId !== undefined;
  const withSound = sound ?? true;
  // Whether the stream carries sound, from its init segment's codecs.
  const [hasSound, setHasSound] = useState(false);
  const videoRef = useRef<HTMLVideoElement>(null);
  const initialPhase = (): Phase =>
    typeof window !== 'undefined' && 'MediaSource' in window ? 'connecting' : 'unsupported';
  const [phase, setPhase] = useState<Phase>(initialPhase);
  const [running, setRunning] = useState(true);
  // Another source in the same player: start over (the video element is back if it was replaced
  // by the fallback).
  const [shown, setShown] = useState(path);
  if (shown !== path) {
    setShown(path);
    setPhase(initialPhase());
  }
  // Browsers only autoplay muted video; sound is the viewer's choice, per player.
  const [muted, setMuted] = useState(true);
  useEffect(() => {
    if (videoRef.current) videoRef.current.muted = muted;
  }, [muted, phase]);
  const stopped = useRef(onStopped);
  useEffect(() => {
    stopped.current = onStopped;
  });

  useEffect(() => {
    if (!running || !path || !('MediaSource' in window)) return;
    const video = videoRef.current;
    if (!video) return;
    let closed = false;
    let ws: WebSocket | null = null;
    let ms: MediaSource | null = null;
    let sb: SourceBuffer | null = null;
    let queue: ArrayBuffer[] = [];
    // The init segment of the current run: the binary message after an `init` text, appended
    // before anything else and never dropped with the backlog (without it nothing that follows
    // can be parsed).
    let initData: ArrayBuffer | null = null;
    let expectInit = false;
    let reconnect: number | undefined;
    const slot = Symbol('live');
    if (group)
      claimSlot(group, groupLimit, slot, () => {
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
      const next = initData ?? queue.shift();
      initData = null;
      if (!next) return;
      try {
        sb.appendBuffer(next);
      } catch {
        // Quota exceeded: drop what is buffered and continue from the next segment.
        if (b.length > 0) sb.remove(0, b.end(b.length - 1));
      }
    };

    // A new init (first connection or the source back after an outage) starts a new
    // MediaSource: the new run's timestamps start again at zero.
    const init = (mime: string) => {
      setHasSound(mime.includes('mp4a'));
      if (!MediaSource.isTypeSupported(mime)) {
        setPhase('unsupported');
        closed = true;
        ws?.close();
        return;
      }
      queue = [];
      initData = null;
      expectInit = true;
      sb = null;
      const source = new MediaSource();
      ms = source;
      if (video.src) URL.revokeObjectURL(video.src);
      video.src = URL.createObjectURL(source);
      source.addEventListener('sourceopen', () => {
        // The event is queued: by the time it runs the player may have been torn down (the
        // page left, the camera changed) or a newer init may have replaced this source.
        if (closed || ms !== source || source.readyState !== 'open') return;
        sb = source.addSourceBuffer(mime);
        sb.mode = 'segments';
        sb.addEventListener('updateend', pump);
        pump();
      });
    };

    const connect = () => {
      reconnect = undefined;
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const socket = new WebSocket(`${proto}//${location.host}${path}`);
      ws = socket;
      let opened = false;
      let restart = false;
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => {
        opened = true;
      };
      socket.onmessage = (ev) => {
        if (closed) return;
        if (typeof ev.data === 'string') {
          let msg: { type?: string; status?: string; mime?: string };
          try {
            msg = JSON.parse(ev.data) as typeof msg;
          } catch {
            return;
          }
          if (msg.type === 'init' && msg.mime) init(msg.mime);
          else if (msg.type === 'ended') {
            queue = [];
            if (what === 'camera') {
              // The camera's settings changed (its remux had the old address): reconnect at
              // once to the new one. (A deleted camera's retries are refused until it leaves.)
              restart = true;
              setPhase('connecting');
            } else {
              // The program stopped: keep the last picture, say so, and do not reconnect; the
              // parent re-mounts the player when the program runs again.
              closed = true;
              setPhase('ended');
            }
            socket.close();
          } else if (msg.status === 'offline') setPhase('offline');
          else if (msg.status === 'online') setPhase('connecting');
          return;
        }
        if (expectInit) {
          expectInit = false;
          initData = ev.data as ArrayBuffer;
        } else {
          queue.push(ev.data as ArrayBuffer);
        }
        // A viewer that cannot keep up: drop the backlog rather than fall further behind.
        if (queue.length > MAX_QUEUE) queue = queue.slice(-1);
        pump();
        if (video.paused)
          video.play().then(
            () => !closed && setPhase('playing'),
            () => undefined,
          );
        else setPhase('playing');
      };
      socket.onclose = () => {
        if (closed) return;
        // Refused before it opened: for a program, it is not running (409); try again slowly.
        if (!opened && what === 'program') {
          setPhase('not-running');
          reconnect = window.setTimeout(connect, NOT_RUNNING_RETRY_MS);
          return;
        }
        setPhase('connecting');
        reconnect = window.setTimeout(connect, restart ? 200 : RECONNECT_MS);
      };
    };
    connect();

    return () => {
      closed = true;
      ms = null;
      sb = null;
      if (reconnect !== undefined) window.clearTimeout(reconnect);
      ws?.close();
      if (group) releaseSlot(group, slot);
      if (video.src) URL.revokeObjectURL(video.src);
      video.removeAttribute('src');
      video.load();
    };
  }, [path, what, running, group, groupLimit]);

  if (phase === 'unsupported' || !running) {
    if (withSnapshot) {
      if (!children) return <Snapshot cameraId={cameraId} alt={alt} className={className} intervalMs={intervalMs} />;
      return (
        <div className={`relative overflow-hidden bg-slate-900 ${className}`}>
          <Snapshot cameraId={cameraId} alt={alt} className="absolute inset-0 h-full w-full" intervalMs={intervalMs} />
          {children}
        </div>
      );
    }
    return (
      <div
        className={`relative flex flex-col items-center justify-center gap-2 overflow-hidden bg-slate-900 text-slate-400 ${className}`}
      >
        <CameraIcon className="h-8 w-8" />
        <span className="px-3 text-center text-xs" data-testid="live-status">
          {running ? 'This browser cannot play the live video.' : 'Live view paused.'}
        </span>
        {children}
      </div>
    );
  }

  const statusText =
    phase === 'offline'
      ? what === 'camera'
        ? 'Camera offline — waiting for it to return'
        : 'No picture — waiting for it to return'
      : phase === 'not-running'
        ? 'Program not running'
        : phase === 'ended'
          ? what === 'program'
            ? 'Program stopped'
            : 'Live view ended'
          : 'Connecting to live view…';

  // For a camera the snapshot stays underneath: it is the picture while connecting or offline,
  // and it refreshes rarely once the video plays.
  return (
    <div className={`relative overflow-hidden bg-slate-900 ${className}`} data-phase={phase}>
      {withSnapshot && (
        <Snapshot
          cameraId={cameraId}
          alt={alt.replace(/^Live view/, 'Snapshot')}
          className="absolute inset-0 h-full w-full"
          intervalMs={phase === 'playing' ? 60_000 : intervalMs}
        />
      )}
      <video
        ref={videoRef}
        className={`absolute inset-0 h-full w-full object-contain ${phase === 'playing' || !withSnapshot ? 'bg-slate-900' : ''}`}
        muted
        autoPlay
        playsInline
        aria-label={alt}
        data-testid={videoTestId}
      />
      {phase !== 'playing' && (
        <div
          className="absolute inset-x-0 bottom-0 bg-slate-900/70 px-3 py-1.5 text-xs text-slate-100"
          data-testid="live-status"
        >
          {statusText}
        </div>
      )}
      {liveBadge && (
        <span className="absolute left-2 top-2 rounded bg-red-600 px-1.5 py-0.5 text-[10px] font-semibold text-white">
          LIVE
        </span>
      )}
      {withSound && hasSound && phase === 'playing' && (
        <button
          type="button"
          className="absolute bottom-2 right-2 rounded bg-slate-900/70 px-2 py-1 text-xs font-semibold text-white hover:bg-slate-900"
          aria-pressed={!muted}
          data-testid="live-unmute"
          onClick={() => setMuted((m) => !m)}
        >
          {muted ? 'Sound off' : 'Sound on'}
        </button>
      )}
      {children}
    </div>
  );
}
