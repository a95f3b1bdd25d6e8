// Keeping a list of API objects up to date from single answers and events.

export interface WithId {
  id: number | string;
}

/** The list with `item` replacing the one of the same id, or added; sorted by `compare` if given. */
export function upsert<T extends WithId>(
  list: readonly T[] | undefined,
  item: T,
  compare?: (a: T, b: T) => number,
): T[] {
  const prev = list ?? [];
  const next = prev.some((x) => x.id === item.id) ? prev.map((x) => (x.id === item.id ? item : x)) : [...prev, item];
  return compare ? next.sort(compare) : next;
}

/** The list without the item of that id. */
export function removeId<T extends WithId>(list: readonly T[] | undefined, id: T['id']): T[] {
  return (list ?? []).filter((x) => x.id !== id);
}

/** Case-insensitive order by name, as the appliance lists things. */
export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
}

/** `{id: 3, ...}` from an event's data, or null when the data names no object. */
export function eventId(data: unknown): number | string | null {
  if (data && typeof data === 'object' && 'id' in data) {
    const id = data.id;
    if (typeof id === 'number' || typeof id === 'string') return id;
  }
  return null;
}
