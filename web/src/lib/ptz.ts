// Fine framing with a PTZ camera: the speed curve of the pad, the step sizes, and where a click
// on the picture should turn the camera to centre it there.

import type { PtzVelocity } from '../api';
import { velocityFor, type Direction } from './streaming';

/** The curve's exponent: 10 % of the slider is about 1.6 % of the top speed (a 180 °/s head
 * then turns about 3 °/s), 50 % is about 29 %, 100 % is full speed. */
export const SPEED_EXPONENT = 1.8;

/** Slider percent (1…100) → the fraction of the camera's top speed sent as its velocity. */
export function speedCurve(percent: number): number {
  const p = Math.min(100, Math.max(1, Number.isFinite(percent) ? percent : 50)) / 100;
  return Math.round(p ** SPEED_EXPONENT * 10_000) / 10_000;
}

/** The pad's velocity for a direction at a slider position, through the curve. */
export function padVelocity(direction: Direction, percent: number, timeoutMs = 1500): PtzVelocity {
  const unit = velocityFor(direction, 1, timeoutMs);
  const k = speedCurve(percent);
  const r = (v: number) => Math.round(v * k * 10_000) / 10_000 || 0;
  return { pan: r(unit.pan ?? 0), tilt: r(unit.tilt ?? 0), zoom: r(unit.zoom ?? 0), timeout_ms: timeoutMs };
}

/** The steps of the step buttons, in degrees of pan/tilt (percent of zoom). */
export const STEP_FINE = 1;
export const STEP_COARSE = 5;

/** Horizontal field of view at the widest zoom, in the appliance's degrees, and the optical
 * zoom ratio at 100 %: typical of the small PTZ cameras the appliance drives. The camera does not
 * report them, so a click centres approximately; a second click finishes the job. */
export const HFOV_WIDE_DEG = 60;
export const ZOOM_RATIO = 10;

/**
 * Where to turn so the point clicked ends in the centre: `x` and `y` from −1 (left, top edge) to
 * 1 (right, bottom edge) of a picture of `aspect` (width / height), at `zoomPercent`.
 */
export function centreStep(x: number, y: number, zoomPercent: number, aspect = 16 / 9): { pan: number; tilt: number } {
  const z = Math.min(100, Math.max(0, Number.isFinite(zoomPercent) ? zoomPercent : 0)) / 100;
  const hfov = HFOV_WIDE_DEG / (1 + (ZOOM_RATIO - 1) * z);
  const vfov = hfov / aspect;
  const clamp = (v: number) => Math.min(1, Math.max(-1, v));
  const r = (v: number) => Math.round(v * 10) / 10 || 0;
  return { pan: r((clamp(x) * hfov) / 2), tilt: r((-clamp(y) * vfov) / 2) };
}
