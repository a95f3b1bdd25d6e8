// Whether a CSS media query matches now, following changes (a phone turned, a window resized):
// pages render one layout instead of two hidden by CSS, so nothing is loaded twice.

import { useEffect, useState } from 'react';

export function useMediaQuery(query: string): boolean {
  const get = () =>
    typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia(query).matches;
  const [matches, setMatches] = useState(get);
  useEffect(() => {
    if (typeof window.matchMedia !== 'function') return;
    const mq = window.matchMedia(query);
    const on = () => setMatches(mq.matches);
    on();
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, [query]);
  return matches;
}

/** Tailwind's `md` breakpoint: a tablet or wider. */
export const WIDE = '(min-width: 768px)';
