import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../api';
import { entryMatches, mergeEntries, parseSubject } from './journal';

const entry = (seq: number, over: Partial<JournalEntry> = {}): JournalEntry => ({
  seq,
  at: '2026-01-01T00:00:00.000Z',
  severity: 'info',
  subject_type: 'camera',
  subject_id: 3,
  subject_name: null,
  action: 'online',
  message: 'online',
  context: null,
  ...over,
});

const all = { subject: null, severity: 'all' as const, type: 'all', query: '' };

describe('parseSubject', () => {
  it('reads type:id and nothing else', () => {
    expect(parseSubject('camera:3')).toEqual({ type: 'camera', id: 3 });
    expect(parseSubject('destination:12')).toEqual({ type: 'destination', id: 12 });
    expect(parseSubject('planet:3')).toBeNull();
    expect(parseSubject('camera:')).toBeNull();
    expect(parseSubject(null)).toBeNull();
  });
});

describe('entryMatches', () => {
  const none = () => undefined;
  it('filters by subject, type and severity', () => {
    const err = entry(1, { severity: 'error', message: 'offline: Connection refused' });
    expect(entryMatches(err, { ...all, subject: { type: 'camera', id: 3 } }, none)).toBe(true);
    expect(entryMatches(err, { ...all, subject: { type: 'camera', id: 4 } }, none)).toBe(false);
    expect(entryMatches(err, { ...all, type: 'stream' }, none)).toBe(false);
    expect(entryMatches(err, { ...all, severity: 'warning' }, none)).toBe(true);
    expect(entryMatches(entry(2), { ...all, severity: 'warning' }, none)).toBe(false);
    expect(entryMatches(err, { ...all, severity: 'info' }, none)).toBe(false);
  });
  it('searches the message and the name, in any case', () => {
    const err = entry(1, { message: 'offline: Connection refused' });
    expect(entryMatches(err, { ...all, query: 'REFUSED' }, none)).toBe(true);
    expect(entryMatches(err, { ...all, query: 'dock' }, () => 'Dock')).toBe(true);
    expect(entryMatches(err, { ...all, query: 'youtube' }, none)).toBe(false);
  });
});

describe('mergeEntries', () => {
  it('keeps each entry once, newest first', () => {
    const merged = mergeEntries([entry(2), entry(1)], [entry(3), entry(2)]);
    expect(merged.map((e) => e.seq)).toEqual([3, 2, 1]);
  });
  it('is bounded', () => {
    const many = Array.from({ length: 600 }, (_, i) => entry(i + 1));
    const merged = mergeEntries(many, []);
    expect(merged).toHaveLength(500);
    expect(merged[0].seq).toBe(600);
  });
});
