// Geometry of overlays in the 1920×1080 reference frame the appliance places them in: the box an
// overlay covers, snapping to the safe areas and the frame's corners, a free place for a new
// overlay, and the text size the program draws (it follows the program's height, never below
// 12 px: crates/server/src/services/programs/overlays.rs).

import type { Overlay, OverlayDefinition } from '../api';

export const FRAME_W = 1920;
export const FRAME_H = 1080;
/** Title-safe (90 %) and action-safe (93 %) areas: their margins in reference pixels. */
export const TITLE_SAFE = { x: FRAME_W * 0.05, y: FRAME_H * 0.05 };
export const ACTION_SAFE = { x: FRAME_W * 0.035, y: FRAME_H * 0.035 };
export const DEFAULT_FONT_SIZE = 36;
export const MIN_TEXT_PX = 12;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function isTextKind(kind: string): boolean {
  return kind === 'text' || kind === 'clock' || kind === 'url_text';
}

/** The text size in reference pixels that a program `programHeight` lines high really draws. */
export function effectiveFontSize(fontSize: number | null | undefined, programHeight = FRAME_H): number {
  const ref = fontSize ?? DEFAULT_FONT_SIZE;
  const px = Math.max(MIN_TEXT_PX, Math.round((ref * programHeight) / FRAME_H));
  return (px * FRAME_H) / programHeight;
}

/** What a text overlay shows, for sizing its box. */
export function sampleText(o: Pick<Overlay, 'kind' | 'definition'>): string {
  const d = o.definition;
  if (o.kind === 'text') return d.text || ' ';
  if (o.kind === 'clock') {
    // A strftime format: each field is about two characters wide.
    return (d.clock_format || '%H:%M').replace(/%[a-zA-Z]/g, '00');
  }
  return '00.0 °C';
}

/**
 * The box an overlay covers in the reference frame. Images use their size; text is as wide as
 * its characters at the size the program draws (about 0.6 em each) and one line high, with the
 * padding of its background.
 */
export function overlayRect(o: Pick<Overlay, 'kind' | 'definition'>, programHeight = FRAME_H): Rect {
  const d = o.definition;
  const x = d.x ?? 0;
  const y = d.y ?? 0;
  if (isTextKind(o.kind)) {
    const size = effectiveFontSize(d.font_size, programHeight);
    const text = sampleText(o);
    return { x, y, width: Math.round(text.length * size * 0.6 + size * 0.5), height: Math.round(size * 1.4) };
  }
  return { x, y, width: d.width ?? 320, height: d.height ?? 120 };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * The snap lines of one axis for a box of `size`: the frame's edges, the action- and
 * title-safe margins (a box's near edge on the margin, or its far edge on the opposite one), and
 * the centre.
 */
function snapTargets(size: number, full: number, action: number, title: number): number[] {
  return [0, action, title, full - size - title, full - size - action, full - size, (full - size) / 2];
}

/** The position `v` moves to: the nearest snap line within `threshold`, else `v`. */
export function snapAxis(
  v: number,
  size: number,
  full: number,
  action: number,
  title: number,
  threshold: number,
): number {
  let best = v;
  let dist = threshold;
  for (const t of snapTargets(size, full, action, title)) {
    const d = Math.abs(v - t);
    if (d <= dist) {
      dist = d;
      best = t;
    }
  }
  return Math.round(best);
}

/** A moved box: snapped on each axis within `threshold` reference pixels, and kept in the frame. */
export function snapMove(r: Rect, threshold: number): Rect {
  const x = snapAxis(r.x, r.width, FRAME_W, ACTION_SAFE.x, TITLE_SAFE.x, threshold);
  const y = snapAxis(r.y, r.height, FRAME_H, ACTION_SAFE.y, TITLE_SAFE.y, threshold);
  return {
    ...r,
    x: clamp(x, 0, Math.max(0, FRAME_W - r.width)),
    y: clamp(y, 0, Math.max(0, FRAME_H - r.height)),
  };
}

/** The far edge of a resized box snapped to the safe margins and the frame's edge. */
export function snapEdge(edge: number, full: number, action: number, title: number, threshold: number): number {
  let best = edge;
  let dist = threshold;
  for (const t of [full, full - action, full - title, action, title]) {
    const d = Math.abs(edge - t);
    if (d <= dist) {
      dist = d;
      best = t;
    }
  }
  return Math.round(best);
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * Where a new box of `width`×`height` goes: the first place inside the title-safe area, corners
 * first, then row by row, that overlaps none of `taken`; the top-left title-safe corner if the
 * frame is full.
 */
export function freeSpot(width: number, height: number, taken: Rect[]): { x: number; y: number } {
  const left = Math.round(TITLE_SAFE.x);
  const top = Math.round(TITLE_SAFE.y);
  const right = Math.round(FRAME_W - TITLE_SAFE.x - width);
  const bottom = Math.round(FRAME_H - TITLE_SAFE.y - height);
  const gap = 16;
  const candidates: { x: number; y: number }[] = [
    { x: left, y: top },
    { x: right, y: top },
    { x: left, y: bottom },
    { x: right, y: bottom },
  ];
  for (let y = top; y <= bottom; y += Math.max(24, Math.round(height / 2))) {
    for (let x = left; x <= right; x += Math.max(24, Math.round(width / 2))) candidates.push({ x, y });
  }
  const ok = (c: { x: number; y: number }) =>
    c.x >= 0 &&
    c.y >= 0 &&
    !taken.some((t) => overlaps({ x: c.x - gap, y: c.y - gap, width: width + 2 * gap, height: height + 2 * gap }, t));
  return candidates.find(ok) ?? { x: left, y: top };
}

/** A definition with a new box: images keep the size, text scales its font with the height. */
export function withRect(
  kind: string,
  d: OverlayDefinition,
  r: Rect,
  before: Rect,
  programHeight = FRAME_H,
): OverlayDefinition {
  const next: OverlayDefinition = { ...d, x: Math.round(r.x), y: Math.round(r.y) };
  if (isTextKind(kind)) {
    if (r.height !== before.height) {
      const font = effectiveFontSize(d.font_size, programHeight);
      next.font_size = clamp(Math.round((font * r.height) / before.height), 6, 400);
    }
  } else {
    next.width = Math.max(1, Math.round(r.width));
    next.height = Math.max(1, Math.round(r.height));
  }
  return next;
}
