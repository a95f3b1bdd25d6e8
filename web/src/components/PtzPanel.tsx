// PTZ control beside a camera's picture: a press-and-hold pan/tilt pad whose speed slider follows a
// curve (fine at low speeds), step buttons that nudge by a degree or five, the current position,
// saving it as a preset and importing the camera's own presets; and the layer that centres the
// camera on a point clicked in its picture, where the camera takes relative moves.

import {
  useCallback,
  useEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
  type MouseEvent as ReactMouseEvent,
  type PointerEvent,
} from 'react';
import { ApiError, api, type Preset, type PtzState } from '../api';
import { sentence } from '../lib/errors';
import { centreStep, padVelocity, speedCurve, STEP_COARSE, STEP_FINE } from '../lib/ptz';
import { describePtzError, withSubject, type Direction } from '../lib/streaming';
import { Alert, Spinner } from './ui';

/** How often a held button repeats its move; the camera stops by itself after MOVE_TIMEOUT_MS. */
const REPEAT_MS = 1000;
const MOVE_TIMEOUT_MS = 1500;

const PAD: { dir: Direction | null; label: string; angle: number }[] = [
  { dir: 'up-left', label: 'Pan left and tilt up', angle: -45 },
  { dir: 'up', label: 'Tilt up', angle: 0 },
  { dir: 'up-right', label: 'Pan right and tilt up', angle: 45 },
  { dir: 'left', label: 'Pan left', angle: -90 },
  { dir: null, label: 'Stop', angle: 0 },
  { dir: 'right', label: 'Pan right', angle: 90 },
  { dir: 'down-left', label: 'Pan left and tilt down', angle: -135 },
  { dir: 'down', label: 'Tilt down', angle: 180 },
  { dir: 'down-right', label: 'Pan right and tilt down', angle: 135 },
];

function Arrow({ angle }: { angle: number }) {
  return (
    <svg
      className="h-5 w-5"
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="2.2"
      aria-hidden="true"
      style={{ transform: `rotate(${angle}deg)` }}
    >
      <path strokeLinecap="round" strokeLinejoin="round" d="M12 19V5m-6 6l6-6 6 6" />
    </svg>
  );
}

function fmt(n: number): string {
  return String(Number(n.toFixed(1)));
}

/** Press-and-hold moves: one request now, again every second while held, stop on release. */
function useHold(cameraId: number, speed: number, onError: (msg: string | null) => void, onStopped: () => void) {
  const [active, setActive] = useState<Direction | null>(null);
  const holding = useRef<Direction | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const speedRef = useRef(speed);
  // Requests go out one after the other, so a stop never overtakes the move it ends.
  const queue = useRef<Promise<void>>(Promise.resolve());
  const pendingMoves = useRef(0);
  const callbacks = useRef({ onError, onStopped });
  useEffect(() => {
    callbacks.current = { onError, onStopped };
    speedRef.current = speed;
  });

  const send = useCallback((fn: () => Promise<void>) => {
    const next = queue.current.then(fn);
    queue.current = next.catch(() => undefined);
  }, []);

  const clear = () => {
    if (timer.current !== undefined) window.clearInterval(timer.current);
    timer.current = undefined;
  };

  const release = useCallback(() => {
    if (holding.current === null) return;
    holding.current = null;
    setActive(null);
    clear();
    send(() =>
      api.ptzStop(cameraId).then(
        () => callbacks.current.onStopped(),
        (err) => callbacks.current.onError(describePtzError(err)),
      ),
    );
  }, [cameraId, send]);

  const press = useCallback(
    (dir: Direction) => {
      if (holding.current === dir) return;
      if (holding.current !== null) release();
      holding.current = dir;
      setActive(dir);
      callbacks.current.onError(null);
      const move = () => {
        if (holding.current !== dir) return Promise.resolve();
        pendingMoves.current += 1;
        return api
          .ptzMove(cameraId, padVelocity(dir, speedRef.current, MOVE_TIMEOUT_MS))
          .catch((err) => {
            // Stop repeating a move the camera refuses; the message says why.
            if (holding.current === dir) {
              holding.current = null;
              setActive(null);
              clear();
            }
            callbacks.current.onError(describePtzError(err));
          })
          .finally(() => {
            pendingMoves.current -= 1;
          });
      };
      send(move);
      timer.current = window.setInterval(() => {
        if (pendingMoves.current === 0) send(move);
      }, REPEAT_MS);
    },
    [cameraId, release, send],
  );

  /** A single stop (the pad's centre button), whatever is held. */
  const stopAll = useCallback(() => {
    holding.current = null;
    setActive(null);
    clear();
    send(() =>
      api.ptzStop(cameraId).then(
        () => callbacks.current.onStopped(),
        (err) => callbacks.current.onError(describePtzError(err)),
      ),
    );
  }, [cameraId, send]);

  // Leaving the window or the page releases the pad.
  useEffect(() => {
    const onHide = () => {
      if (document.visibilityState === 'hidden') release();
    };
    window.addEventListener('blur', release);
    document.addEventListener('visibilitychange', onHide);
    return () => {
      window.removeEventListener('blur', release);
      document.removeEventListener('visibilitychange', onHide);
      release();
    };
  }, [release]);

  /** Releases only if this button is the one held (a blur elsewhere must not end a new press). */
  const releaseIf = useCallback(
    (dir: Direction) => {
      if (holding.current === dir) release();
    },
    [release],
  );

  return { active, press, release, releaseIf, stopAll };
}

interface Props {
  cameraId: number;
  /** changes when something else (a preset move) moved the camera */
  refreshKey?: number;
  onPresetsAdded: (presets: Preset[]) => void;
  /** told of every position read, so the picture knows the zoom and whether to centre on clicks */
  onState?: (state: PtzState | null) => void;
}

const STEPS: { dir: Direction; label: string; angle: number; v: [number, number] }[] = [
  { dir: 'left', label: 'Step left', angle: -90, v: [-1, 0] },
  { dir: 'up', label: 'Step up', angle: 0, v: [0, 1] },
  { dir: 'down', label: 'Step down', angle: 180, v: [0, -1] },
  { dir: 'right', label: 'Step right', angle: 90, v: [1, 0] },
];

export default function PtzPanel({ cameraId, refreshKey = 0, onPresetsAdded, onState }: Props) {
  const [state, setState] = useState<PtzState | null>(null);
  const [stateError, setStateError] = useState<string | null>(null);
  const [loadingState, setLoadingState] = useState(true);
  const [error, setError] = useState<string | null>(null);
  /** slider percent; the velocity sent goes through `speedCurve` */
  const [speed, setSpeed] = useState(50);
  const [stepSize, setStepSize] = useState(STEP_FINE);
  const [stepping, setStepping] = useState(false);
  const stateListener = useRef(onState);
  useEffect(() => {
    stateListener.current = onState;
  });
  const [captureName, setCaptureName] = useState('');
  const [captureError, setCaptureError] = useState<string | null>(null);
  const [capturing, setCapturing] = useState(false);
  const [importing, setImporting] = useState(false);
  const [result, setResult] = useState<{ kind: 'success' | 'info'; text: string } | null>(null);
  const alive = useRef(true);

  // Shows "loading" only when asked again: the first load starts in that state.
  const fetchState = useCallback(
    () =>
      api.ptzState(cameraId).then(
        (st) => {
          if (!alive.current) return;
          setState(st);
          stateListener.current?.(st);
          setStateError(null);
          setLoadingState(false);
        },
        (err: unknown) => {
          if (!alive.current) return;
          setState(null);
          stateListener.current?.(null);
          setStateError(describePtzError(err));
          setLoadingState(false);
        },
      ),
    [cameraId],
  );
  const refresh = useCallback(() => {
    setLoadingState(true);
    return fetchState();
  }, [fetchState]);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    void fetchState();
  }, [fetchState, refreshKey]);

  // The camera keeps easing for a moment after a stop: read the position a little later.
  const afterStop = useCallback(() => {
    window.setTimeout(() => {
      if (alive.current) void refresh();
    }, 400);
  }, [refresh]);

  const hold = useHold(cameraId, speed, setError, afterStop);

  const padHandlers = (dir: Direction) => ({
    onPointerDown: (e: PointerEvent<HTMLButtonElement>) => {
      if (e.button !== 0) return;
      hold.press(dir);
    },
    onPointerUp: hold.release,
    onPointerLeave: hold.release,
    onPointerCancel: hold.release,
    onBlur: () => hold.releaseIf(dir),
    onKeyDown: (e: KeyboardEvent<HTMLButtonElement>) => {
      if (e.key === ' ' || e.key === 'Enter') {
        e.preventDefault();
        if (!e.repeat) hold.press(dir);
      }
    },
    onKeyUp: (e: KeyboardEvent<HTMLButtonElement>) => {
      if (e.key === ' ' || e.key === 'Enter') {
        e.preventDefault();
        hold.release();
      }
    },
    onContextMenu: (e: { preventDefault: () => void }) => e.preventDefault(),
  });

  const padButton = (dir: Direction, label: string, content: JSX.Element, extra = '') => (
    <button
      key={dir}
      type="button"
      aria-label={label}
      title={label}
      aria-pressed={hold.active === dir}
      data-dir={dir}
      className={`flex h-12 w-12 touch-none select-none items-center justify-center rounded-xl border text-slate-700 shadow-sm transition focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2 ${
        hold.active === dir
          ? 'border-sky-600 bg-sky-600 text-white'
          : 'border-slate-300 bg-white hover:bg-slate-50 active:bg-slate-100'
      } ${extra}`}
      {...padHandlers(dir)}
    >
      {content}
    </button>
  );

  const onStep = async (v: [number, number]) => {
    setStepping(true);
    setError(null);
    try {
      const r = await api.ptzStep(cameraId, { pan: v[0] * stepSize, tilt: v[1] * stepSize, zoom: 0 });
      if (alive.current && r.position)
        setState((st) => (st ? { ...st, position: r.position, move_status: 'idle' } : st));
    } catch (err) {
      setError(describePtzError(err));
    } finally {
      setStepping(false);
      void fetchState();
    }
  };

  const onCapture = async (e: FormEvent) => {
    e.preventDefault();
    const name = captureName.trim();
    if (!name) {
      setCaptureError('Enter a name for the preset.');
      return;
    }
    setCapturing(true);
    setCaptureError(null);
    setError(null);
    setResult(null);
    try {
      const p = await api.capturePreset(cameraId, name);
      onPresetsAdded([p]);
      setCaptureName('');
      setResult({ kind: 'success', text: `Saved the current position as “${p.name}”.` });
    } catch (err) {
      if (err instanceof ApiError && err.field === 'name')
        setCaptureError(withSubject('The name', err.message) ?? null);
      else if (err instanceof ApiError && err.status === 409 && err.code === 'conflict')
        setCaptureError(sentence(err.message));
      else setError(describePtzError(err));
    } finally {
      setCapturing(false);
    }
  };

  const onImport = async () => {
    setImporting(true);
    setError(null);
    setResult(null);
    try {
      const r = await api.importPresets(cameraId);
      onPresetsAdded(r.imported);
      const parts: string[] = [];
      if (r.imported.length > 0)
        parts.push(
          `Imported ${r.imported.length} preset${r.imported.length === 1 ? '' : 's'}: ${r.imported.map((p) => p.name).join(', ')}.`,
        );
      if (r.skipped.length > 0) parts.push(`Skipped ${r.skipped.length} already saved: ${r.skipped.join(', ')}.`);
      if (parts.length === 0) parts.push('The camera has no presets of its own to import.');
      setResult({ kind: r.imported.length > 0 ? 'success' : 'info', text: parts.join(' ') });
    } catch (err) {
      setError(describePtzError(err));
    } finally {
      setImporting(false);
    }
  };

  const pos = state?.position;
  return (
    <section className="card flex flex-col p-5" aria-labelledby="ptz-heading" data-testid="ptz-panel">
      <div className="flex items-start justify-between gap-3">
        <div>
          <h2 id="ptz-heading" className="text-base font-semibold">
            PTZ control
          </h2>
          <p className="mt-0.5 text-xs text-slate-500">Press and hold to move; release to stop.</p>
        </div>
        <button
          type="button"
          className="btn-ghost btn-sm"
          onClick={() => void refresh()}
          disabled={loadingState}
          aria-label="Refresh the camera position"
          title="Refresh the camera position"
        >
          {loadingState ? <Spinner className="h-4 w-4" /> : '↻'}
        </button>
      </div>

      <div className="mt-3 rounded-lg bg-slate-50 px-3 py-2 text-sm" data-testid="ptz-position" aria-live="polite">
        {pos ? (
          <div className="flex flex-wrap items-center gap-x-4 gap-y-1 tabular-nums text-slate-700">
            <span>
              <span className="text-slate-500">Pan</span> {fmt(pos.pan)}°
            </span>
            <span>
              <span className="text-slate-500">Tilt</span> {fmt(pos.tilt)}°
            </span>
            <span>
              <span className="text-slate-500">Zoom</span> {fmt(pos.zoom)}%
            </span>
            {state?.move_status === 'moving' && <span className="text-sky-700">moving…</span>}
          </div>
        ) : loadingState && !stateError ? (
          <span className="text-slate-500">Reading the position…</span>
        ) : (
          <span className="text-slate-500">
            Position unknown{stateError ? <span className="text-slate-500">: {stateError}</span> : ''}
          </span>
        )}
      </div>

      <div className="mt-4 flex flex-wrap items-center justify-center gap-6">
        <div className="grid grid-cols-3 gap-2" role="group" aria-label="Pan and tilt">
          {PAD.map((b) =>
            b.dir === null ? (
              <button
                key="stop"
                type="button"
                aria-label="Stop moving"
                title="Stop moving"
                className="flex h-12 w-12 items-center justify-center rounded-xl border border-slate-300 bg-slate-100 text-slate-600 shadow-sm hover:bg-slate-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2"
                onClick={hold.stopAll}
              >
                <span className="h-3.5 w-3.5 rounded-sm bg-current" aria-hidden="true" />
              </button>
            ) : (
              padButton(b.dir, b.label, <Arrow angle={b.angle} />)
            ),
          )}
        </div>
        <div className="flex flex-col items-center gap-2" role="group" aria-label="Zoom">
          {padButton('zoom-in', 'Zoom in', <span className="text-xl font-semibold leading-none">+</span>)}
          <span className="text-xs font-medium uppercase tracking-wide text-slate-500">Zoom</span>
          {padButton('zoom-out', 'Zoom out', <span className="text-xl font-semibold leading-none">−</span>)}
        </div>
      </div>

      <div className="mt-4">
        <div className="flex items-center justify-between">
          <label htmlFor="ptz-speed" className="text-sm font-medium text-slate-700">
            Speed
          </label>
          <span className="text-sm tabular-nums text-slate-500" data-testid="ptz-speed-value">
            {speed}% · {Math.round(speedCurve(speed) * 1000) / 10}% of top speed
          </span>
        </div>
        <input
          id="ptz-speed"
          type="range"
          min={5}
          max={100}
          step={5}
          value={speed}
          onChange={(e) => setSpeed(Number(e.target.value))}
          className="mt-1 w-full accent-sky-600"
          aria-describedby="ptz-speed-hint"
        />
        <p id="ptz-speed-hint" className="hint">
          Low speeds are fine: at 10 % the camera creeps a few degrees a second.
        </p>
      </div>

      <div className="mt-4" role="group" aria-label="Step">
        <div className="flex flex-wrap items-center gap-2">
          <span className="text-sm font-medium text-slate-700">Step</span>
          {STEPS.map((b) => (
            <button
              key={b.dir}
              type="button"
              className="btn-secondary h-11 w-11 p-0"
              aria-label={`${b.label} ${stepSize}°`}
              title={`${b.label} ${stepSize}°`}
              data-step={b.dir}
              disabled={stepping}
              onClick={() => void onStep(b.v)}
            >
              <Arrow angle={b.angle} />
            </button>
          ))}
          <label htmlFor="ptz-step-size" className="sr-only">
            Step size
          </label>
          <select
            id="ptz-step-size"
            className="input w-auto"
            value={stepSize}
            onChange={(e) => setStepSize(Number(e.target.value))}
          >
            <option value={STEP_FINE}>{STEP_FINE}°</option>
            <option value={STEP_COARSE}>{STEP_COARSE}°</option>
          </select>
          {stepping && <Spinner className="h-4 w-4" />}
        </div>
      </div>

      {error && (
        <div className="mt-4" data-testid="ptz-error">
          <Alert title="Camera control failed">{error}</Alert>
        </div>
      )}
      {result && (
        <div className="mt-4" data-testid="ptz-result">
          <Alert kind={result.kind}>{result.text}</Alert>
        </div>
      )}

      <div className="mt-5 space-y-3 border-t border-slate-100 pt-4">
        <form onSubmit={(e) => void onCapture(e)} noValidate>
          <label htmlFor="ptz-capture-name" className="label">
            Save current position as preset
          </label>
          <div className="flex gap-2">
            <input
              id="ptz-capture-name"
              className={`input ${captureError ? 'input-error' : ''}`}
              value={captureName}
              onChange={(e) => setCaptureName(e.target.value)}
              placeholder="Preset name"
              autoComplete="off"
              aria-invalid={captureError ? true : undefined}
              aria-describedby={captureError ? 'ptz-capture-error' : undefined}
            />
            <button type="submit" className="btn-secondary shrink-0" disabled={capturing}>
              {capturing ? 'Saving…' : 'Save'}
            </button>
          </div>
          {captureError && (
            <p id="ptz-capture-error" className="field-error">
              {captureError}
            </p>
          )}
        </form>
        <button type="button" className="btn-secondary w-full" onClick={() => void onImport()} disabled={importing}>
          {importing ? 'Importing…' : 'Import presets from camera'}
        </button>
      </div>
    </section>
  );
}

/**
 * Over a PTZ camera's picture: a click turns the camera so the point clicked comes to the centre
 * (one relative move), where the camera takes relative moves; elsewhere the picture stays inert.
 */
export function CentreOnClick({
  cameraId,
  state,
  onMoved,
  children,
}: {
  cameraId: number;
  state: PtzState | null;
  onMoved: () => void;
  children: JSX.Element;
}) {
  const [mark, setMark] = useState<{ x: number; y: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const enabled = state?.relative === true;

  const onClick = async (e: ReactMouseEvent<HTMLDivElement>) => {
    if (!enabled || busy) return;
    const box = e.currentTarget.getBoundingClientRect();
    const fx = (e.clientX - box.left) / box.width;
    const fy = (e.clientY - box.top) / box.height;
    const step = centreStep(fx * 2 - 1, fy * 2 - 1, state?.position?.zoom ?? 0, box.width / box.height);
    setMark({ x: fx * 100, y: fy * 100 });
    setBusy(true);
    setError(null);
    try {
      await api.ptzStep(cameraId, { pan: step.pan, tilt: step.tilt, zoom: 0 });
    } catch (err) {
      setError(describePtzError(err));
    } finally {
      setBusy(false);
      setMark(null);
      onMoved();
    }
  };

  return (
    <div className="relative">
      <div
        data-testid="centre-on-click"
        data-enabled={enabled}
        className={enabled ? 'cursor-crosshair' : ''}
        onClick={(e) => void onClick(e)}
        title={enabled ? 'Click to centre the camera there' : undefined}
      >
        {children}
      </div>
      {mark && (
        <span
          aria-hidden="true"
          className="pointer-events-none absolute h-8 w-8 -translate-x-1/2 -translate-y-1/2 rounded-full border-2 border-white shadow"
          style={{ left: `${mark.x}%`, top: `${mark.y}%` }}
        />
      )}
      <p className="px-3 py-2 text-xs text-slate-500" aria-live="polite" data-testid="centre-hint">
        {error ? (
          <span className="text-red-600">{error}</span>
        ) : busy ? (
          'Centring…'
        ) : enabled ? (
          'Click the picture to centre the camera on that point.'
        ) : state ? (
          'This camera does not take relative moves: use the pad or the step buttons.'
        ) : (
          ''
        )}
      </p>
    </div>
  );
}
