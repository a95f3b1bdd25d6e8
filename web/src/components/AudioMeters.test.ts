import { describe, expect, it } from 'vitest';
import { barShare } from './AudioMeters';

describe('barShare', () => {
  it('maps −60…0 dBFS onto the bar', () => {
    expect(barShare(0)).toBe(1);
    expect(barShare(-30)).toBe(0.5);
    expect(barShare(-60)).toBe(0);
    expect(barShare(-14)).toBeCloseTo(46 / 60);
  });
  it('is empty for silence and never overflows', () => {
    expect(barShare(null)).toBe(0);
    expect(barShare(undefined)).toBe(0);
    expect(barShare(-90)).toBe(0);
    expect(barShare(3)).toBe(1);
    expect(barShare(Number.NaN)).toBe(0);
  });
});
