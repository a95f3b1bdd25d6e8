import { describe, expect, it } from 'vitest';
import { formatMs, locatePath, movedStart, rulerTicks, snapMs } from './timeline';

describe('timeline helpers', () => {
  it('snaps to 100 ms', () => {
    expect(snapMs(1234)).toBe(1200);
    expect(snapMs(1250)).toBe(1300);
    expect(snapMs(-40)).toBe(-0);
  });
  it('moves a clip inside the timeline', () => {
    expect(movedStart(1000, 2000, 537, 10_000)).toBe(1500);
    expect(movedStart(1000, 2000, -5000, 10_000)).toBe(0);
    expect(movedStart(1000, 2000, 50_000, 10_000)).toBe(8000);
  });
  it('locates validation paths', () => {
    expect(locatePath('tracks[1].clips[2].end_ms')).toEqual({ track: 1, clip: 2 });
    expect(locatePath('tracks[0]')).toEqual({ track: 0, clip: null });
    expect(locatePath('duration_ms')).toEqual({ track: null, clip: null });
    expect(locatePath(undefined)).toEqual({ track: null, clip: null });
  });
  it('formats times and ticks', () => {
    expect(formatMs(61_500)).toBe('1:01.5');
    expect(formatMs(5_000)).toBe('0:05');
    expect(rulerTicks(60_000)).toEqual([
      0, 5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000, 45000, 50000, 55000, 60000,
    ]);
  });
});
