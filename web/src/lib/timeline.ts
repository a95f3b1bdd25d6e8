// Pure helpers of the timeline editor: snapping, moving clips, locating a validation path.

export const SNAP_MS = 100;

export function snapMs(ms: number, step: number = SNAP_MS): number {
  return Math.round(ms / step) * step;
}

/** New start of a clip of `length` ms dragged by `deltaMs`, snapped and kept inside [0, duration]. */
export function movedStart(start: number, length: number, deltaMs: number, duration: number): number {
  const s = snapMs(start + deltaMs);
  return Math.max(0, Math.min(s, Math.max(0, duration - length)));
}

/** `tracks[1].clips[2].end_ms` → {track: 1, clip: 2}; other paths → what they name. */
export function locatePath(path: string | undefined | null): { track: number | null; clip: number | null } {
  if (!path) return { track: null, clip: null };
  const m = /^tracks\[(\d+)\](?:\.clips\[(\d+)\])?/.exec(path);
  if (!m) return { track: null, clip: null };
  return { track: Number(m[1]), clip: m[2] !== undefined ? Number(m[2]) : null };
}

/** 61_500 → "1:01.5" */
export function formatMs(ms: number): string {
  const neg = ms < 0;
  const t = Math.abs(Math.round(ms / 100)) / 10;
  const m = Math.floor(t / 60);
  const s = t - m * 60;
  const sec = s.toFixed(1).padStart(4, '0');
  return `${neg ? '-' : ''}${m}:${sec.replace(/\.0$/, '')}`;
}

/** Ruler ticks (ms) for a duration: about 10 of them at a round step. */
export function rulerTicks(duration: number): number[] {
  if (!(duration > 0)) return [];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
  const step = steps.find((s) => duration / s <= 12) ?? 7200_000;
  const out: number[] = [];
  for (let t = 0; t <= duration; t += step) out.push(t);
  return out;
}

export function newClipId(): string {
  return `clip-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
