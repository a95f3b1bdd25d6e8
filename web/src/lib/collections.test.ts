import { describe, expect, it } from 'vitest';
import { byName, eventId, removeId, upsert } from './collections';

describe('upsert', () => {
  const a = { id: 1, name: 'b' };
  const b = { id: 2, name: 'A' };
  it('replaces the item of the same id in place', () => {
    expect(upsert([a, b], { id: 1, name: 'z' })).toEqual([{ id: 1, name: 'z' }, b]);
  });
  it('adds a new item, sorted when asked', () => {
    expect(upsert([a], b)).toEqual([a, b]);
    expect(upsert([a], b, byName)).toEqual([b, a]);
  });
  it('starts a list that was not loaded yet', () => {
    expect(upsert(undefined, a)).toEqual([a]);
  });
  it('does not modify its input', () => {
    const list = [a];
    upsert(list, b);
    expect(list).toEqual([a]);
  });
});

describe('removeId', () => {
  it('drops only the item of that id', () => {
    expect(removeId([{ id: 1 }, { id: 2 }], 1)).toEqual([{ id: 2 }]);
    expect(removeId(undefined, 1)).toEqual([]);
  });
});

describe('eventId', () => {
  it('reads the id of an event payload', () => {
    expect(eventId({ id: 4 })).toBe(4);
    expect(eventId({ sync: true })).toBeNull();
    expect(eventId('text')).toBeNull();
    expect(eventId(null)).toBeNull();
  });
});
