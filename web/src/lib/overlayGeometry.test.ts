import { describe, expect, it } from 'vitest';
import type { Overlay } from '../api';
import { effectiveFontSize, freeSpot, overlayRect, snapMove, TITLE_SAFE, withRect } from './overlayGeometry';

const text = (d: Overlay['definition']) => ({ kind: 'text' as const, definition: d });

describe('effectiveFontSize', () => {
  it('follows the program height and never goes below 12 px', () => {
    expect(effectiveFontSize(36, 1080)).toBe(36);
    // 36 reference px at 480 lines: 16 px drawn, still 36 in the reference frame.
    expect(effectiveFontSize(36, 480)).toBe(36);
    // 20 at 360 lines would be 7 px: drawn at 12, which is 36 reference px.
    expect(effectiveFontSize(20, 360)).toBe(36);
  });
});

describe('snapMove', () => {
  it('snaps to the title-safe corner and the frame corner', () => {
    const r = snapMove({ x: 100, y: 50, width: 200, height: 100 }, 10);
    expect(r.x).toBe(Math.round(TITLE_SAFE.x));
    expect(r.y).toBe(Math.round(TITLE_SAFE.y));
    const corner = snapMove({ x: 1920 - 200 - 4, y: 1080 - 100 + 3, width: 200, height: 100 }, 10);
    expect(corner).toMatchObject({ x: 1720, y: 980 });
  });
  it('leaves a box alone away from the lines and keeps it in the frame', () => {
    expect(snapMove({ x: 500, y: 400, width: 200, height: 100 }, 10)).toMatchObject({ x: 500, y: 400 });
    expect(snapMove({ x: -300, y: 2000, width: 200, height: 100 }, 10)).toMatchObject({ x: 0, y: 980 });
  });
  it('snaps to the centre', () => {
    expect(snapMove({ x: 855, y: 400, width: 200, height: 100 }, 10).x).toBe(860);
  });
});

describe('freeSpot', () => {
  it('starts in the title-safe corner and avoids what is there', () => {
    const first = freeSpot(320, 120, []);
    expect(first).toEqual({ x: 96, y: 54 });
    const second = freeSpot(320, 120, [{ ...first, width: 320, height: 120 }]);
    expect(second).not.toEqual(first);
    const overlap =
      second.x < first.x + 320 && first.x < second.x + 320 && second.y < first.y + 120 && first.y < second.y + 120;
    expect(overlap).toBe(false);
  });
});

describe('overlayRect and withRect', () => {
  it('sizes text from its characters and scales its font on resize', () => {
    const o = text({ x: 10, y: 20, text: 'Hello', font_size: 40 });
    const r = overlayRect(o);
    expect(r.height).toBe(56);
    expect(r.width).toBeGreaterThan(100);
    const d = withRect('text', o.definition, { ...r, height: r.height * 2 }, r);
    expect(d.font_size).toBe(80);
    expect(d.width).toBeUndefined();
  });
  it('stores an image box as it was drawn', () => {
    const d = withRect(
      'image',
      { x: 0, y: 0, width: 100, height: 50 },
      { x: 12.4, y: 7.6, width: 300, height: 150 },
      { x: 0, y: 0, width: 100, height: 50 },
    );
    expect(d).toMatchObject({ x: 12, y: 8, width: 300, height: 150 });
  });
});
