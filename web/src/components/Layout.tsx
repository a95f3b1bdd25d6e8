// The signed-in shell: sidebar navigation on wide screens, a top bar on narrow ones.

import { useState, type ReactNode } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth';
import { Logo } from './ui';

const NAV: { to: string; label: string; end?: boolean; icon: ReactNode }[] = [
  {
    to: '/',
    label: 'Dashboard',
    end: true,
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M3.75 3.75h6.5v6.5h-6.5zM13.75 3.75h6.5v6.5h-6.5zM3.75 13.75h6.5v6.5h-6.5zM13.75 13.75h6.5v6.5h-6.5z"
      />
    ),
  },
  {
    to: '/cameras',
    label: 'Cameras',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M15.75 10.5l4.72-4.72a.75.75 0 011.28.53v11.38a.75.75 0 01-1.28.53l-4.72-4.72M4.5 18.75h9a2.25 2.25 0 002.25-2.25v-9a2.25 2.25 0 00-2.25-2.25h-9A2.25 2.25 0 002.25 7.5v9a2.25 2.25 0 002.25 2.25z"
      />
    ),
  },
  {
    to: '/streams',
    label: 'Streams',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M5.25 5.65c0-.86.92-1.4 1.67-.98l11.54 6.35a1.13 1.13 0 010 1.96L6.92 19.33c-.75.42-1.67-.12-1.67-.98V5.65z"
      />
    ),
  },
  {
    to: '/program',
    label: 'Program',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M3.75 5.25h16.5v10.5H3.75zM8.25 19.5h7.5M12 15.75v3.75M10.5 8.25l3.75 2.25-3.75 2.25z"
      />
    ),
  },
  {
    to: '/timelines',
    label: 'Timelines',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M3.75 6.75h16.5M3.75 12h16.5M3.75 17.25h16.5M8.25 4.5v4.5M14.25 9.75v4.5M10.5 15v4.5"
      />
    ),
  },
  {
    to: '/overlays',
    label: 'Overlays',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M6.43 9.75L2.25 12l4.18 2.25m0-4.5l5.57 3 5.57-3m-11.14 0L2.25 7.5 12 2.25l9.75 5.25-4.18 2.25m0 0L21.75 12l-4.18 2.25m0 0l4.18 2.25L12 21.75 2.25 16.5l4.18-2.25m11.14 0l-5.57 3-5.57-3"
      />
    ),
  },
  {
    to: '/destinations',
    label: 'Destinations',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M9.35 14.65a3.75 3.75 0 010-5.3m5.3 0a3.75 3.75 0 010 5.3M6.7 17.3a7.5 7.5 0 010-10.6m10.6 0a7.5 7.5 0 010 10.6M12 12h.01"
      />
    ),
  },
  {
    to: '/events',
    label: 'Events',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M8.25 6.75h12M8.25 12h12m-12 5.25h12M3.75 6.75h.01M3.75 12h.01M3.75 17.25h.01"
      />
    ),
  },
  {
    to: '/studio-link',
    label: 'Studio link',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M2.25 15a4.5 4.5 0 004.5 4.5H18a3.75 3.75 0 001.33-7.26 3 3 0 00-3.76-3.84A5.25 5.25 0 005.6 10.3 4.5 4.5 0 002.25 15z"
      />
    ),
  },
  {
    to: '/account',
    label: 'Account',
    icon: (
      <path
        strokeLinecap="round"
        strokeLinejoin="round"
        d="M15.75 6a3.75 3.75 0 11-7.5 0 3.75 3.75 0 017.5 0zM4.5 20.1a7.5 7.5 0 0115 0A17.9 17.9 0 0112 21.75c-2.68 0-5.22-.58-7.5-1.65z"
      />
    ),
  },
];

function navClass({ isActive }: { isActive: boolean }) {
  // min-h-11: a 44 px touch target on a phone, where the list is the open menu.
  return `flex min-h-11 items-center gap-3 rounded-lg px-3 py-2 text-sm font-medium transition md:min-h-0 ${
    isActive ? 'bg-slate-800 text-white' : 'text-slate-300 hover:bg-slate-800/60 hover:text-white'
  }`;
}

export default function Layout() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  // The phone's menu: the list of pages folds under a button so the page keeps the width.
  // Open on the page it was opened on: following a link closes it.
  const location = useLocation();
  const [menuOpenAt, setMenuOpenAt] = useState<string | null>(null);
  const menuOpen = menuOpenAt === location.pathname;

  const onLogout = async () => {
    setBusy(true);
    try {
      await logout();
    } finally {
      setBusy(false);
      navigate('/login', { replace: true });
    }
  };

  const nav = (
    <nav aria-label="Main" className="flex flex-col gap-1">
      {NAV.map((item) => (
        <NavLink key={item.to} to={item.to} end={item.end} className={navClass}>
          <svg
            className="h-5 w-5 shrink-0"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.5"
            aria-hidden="true"
          >
            {item.icon}
          </svg>
          <span>{item.label}</span>
        </NavLink>
      ))}
    </nav>
  );

  return (
    <div className="min-h-screen md:flex">
      <aside className="bg-slate-900 text-slate-200 md:w-60 md:shrink-0">
        <div className="flex flex-col md:sticky md:top-0 md:h-screen">
          <div className="flex items-center justify-between gap-3 px-4 py-4 md:px-5 md:py-5">
            <div className="flex items-center gap-2.5">
              <Logo className="h-8 w-8" />
              <span className="text-base font-semibold tracking-tight text-white">VistterStream</span>
            </div>
            <button
              type="button"
              className="btn h-11 w-11 bg-slate-800 p-0 text-slate-100 md:hidden"
              aria-expanded={menuOpen}
              aria-controls="main-menu"
              aria-label={menuOpen ? 'Close the menu' : 'Open the menu'}
              onClick={() => setMenuOpenAt(menuOpen ? null : location.pathname)}
            >
              <svg
                className="h-6 w-6"
                viewBox="0 0 24 24"
                fill="none"
                stroke="currentColor"
                strokeWidth="1.8"
                aria-hidden="true"
              >
                <path
                  strokeLinecap="round"
                  d={menuOpen ? 'M6 6l12 12M18 6L6 18' : 'M3.75 6.75h16.5M3.75 12h16.5M3.75 17.25h16.5'}
                />
              </svg>
            </button>
          </div>
          <div
            id="main-menu"
            className={`${menuOpen ? 'block' : 'hidden'} px-3 pb-3 md:block md:flex-1 md:overflow-y-auto md:pb-0`}
          >
            {nav}
          </div>
          <div className="hidden border-t border-slate-800 p-4 md:block">
            <p className="text-xs text-slate-400">Signed in as</p>
            <p className="truncate text-sm font-medium text-white" data-testid="current-user">
              {user?.username}
            </p>
            <button
              type="button"
              className="btn mt-3 w-full bg-slate-800 text-slate-200 hover:bg-slate-700"
              onClick={() => void onLogout()}
              disabled={busy}
            >
              Log out
            </button>
          </div>
          <div
            className={`${menuOpen ? 'flex' : 'hidden'} items-center justify-between border-t border-slate-800 px-4 py-2 md:hidden`}
          >
            <span className="truncate text-sm text-slate-300">{user?.username}</span>
            <button
              type="button"
              className="btn-sm btn bg-slate-800 text-slate-200"
              onClick={() => void onLogout()}
              disabled={busy}
            >
              Log out
            </button>
          </div>
        </div>
      </aside>
      <main className="min-w-0 flex-1">
        <div className="mx-auto max-w-6xl px-4 py-8 sm:px-6 lg:px-8">
          <Outlet />
        </div>
      </main>
    </div>
  );
}
