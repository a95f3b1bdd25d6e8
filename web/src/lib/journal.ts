// Pure helpers of the Events page: the `?subject=camera:3` filter, matching entries, and merging
// entries pushed live into those loaded (newest first, no duplicates, bounded).

import type { JournalEntry } from '../api';

export const SUBJECT_LABELS: Record<string, string> = {
  camera: 'Cameras',
  program: 'Programs',
  stream: 'Streams',
  destination: 'Destinations',
  user: 'Logins',
};

export type SeverityFilter = 'all' | 'error' | 'warning' | 'info';

/** At most this many entries are kept in the page, as the appliance keeps. */
export const MAX_ENTRIES = 500;

export function parseSubject(v: string | null): { type: string; id: number } | null {
  const m = /^(camera|program|stream|destination|user):(\d+)$/.exec(v ?? '');
  return m ? { type: m[1], id: Number(m[2]) } : null;
}

export function isJournalEntry(v: unknown): v is JournalEntry {
  const e = v as JournalEntry;
  return typeof v === 'object' && v !== null && typeof e.seq === 'number' && typeof e.message === 'string';
}

export interface EntryFilter {
  subject: { type: string; id: number } | null;
  severity: SeverityFilter;
  /** a subject type, or 'all' */
  type: string;
  query: string;
}

const RANK: Record<string, number> = { info: 0, warning: 1, error: 2 };

/**
 * `error` shows errors, `warning` warnings and errors, `info` information only; the query
 * matches the message, the name and the context, in any case.
 */
export function entryMatches(
  e: JournalEntry,
  f: EntryFilter,
  nameOf: (e: JournalEntry) => string | undefined,
): boolean {
  if (f.subject && (e.subject_type !== f.subject.type || e.subject_id !== f.subject.id)) return false;
  if (f.type !== 'all' && e.subject_type !== f.type) return false;
  if (f.severity === 'info' && e.severity !== 'info') return false;
  if ((f.severity === 'error' || f.severity === 'warning') && (RANK[e.severity] ?? 0) < RANK[f.severity]) return false;
  const q = f.query.trim().toLowerCase();
  if (q) {
    const hay = `${e.message} ${nameOf(e) ?? ''} ${e.context ?? ''} ${e.action}`.toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

/** Newest first by `seq`, each entry once, at most MAX_ENTRIES. */
export function mergeEntries(have: JournalEntry[], incoming: JournalEntry[]): JournalEntry[] {
  const bySeq = new Map<number, JournalEntry>();
  for (const e of [...have, ...incoming]) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((a, b) => b.seq - a.seq).slice(0, MAX_ENTRIES);
}
