// A link from where an error shows to the Events page filtered on the thing that failed, so the
// story behind the last error (when it started, what came before) is one click away.

import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';

export type SubjectType = 'camera' | 'program' | 'stream' | 'destination' | 'user';

/** The Events page's address for one thing: `/events?subject=camera:3`. */
export function eventsHref(type: SubjectType, id: number): string {
  return `/events?subject=${type}:${id}`;
}

export default function EventsLink({
  type,
  id,
  children = 'Events',
  className = 'font-medium text-sky-700 underline underline-offset-2 hover:text-sky-900',
}: {
  type: SubjectType;
  id: number;
  /** the link's text, which is also its accessible name (no aria-label hides it) */
  children?: ReactNode;
  className?: string;
}) {
  return (
    <Link to={eventsHref(type, id)} className={className} data-testid="events-link">
      {children}
    </Link>
  );
}
