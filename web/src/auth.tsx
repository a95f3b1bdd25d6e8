// Who is signed in, and whether the appliance still needs its first admin.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, setUnauthorizedHandler, type User } from './api';

interface AuthContextValue {
  /** null until the first /api/auth/state answer */
  loading: boolean;
  loadError: string | null;
  setupRequired: boolean;
  user: User | null;
  signedIn: (user: User) => void;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [setupRequired, setSetupRequired] = useState(false);
  const [user, setUser] = useState<User | null>(null);

  const refresh = useCallback(
    () =>
      api.authState().then(
        (state) => {
          setSetupRequired(state.setup_required);
          setUser(state.user ?? null);
          setLoadError(null);
          setLoading(false);
        },
        (e: unknown) => {
          setLoadError(e instanceof Error ? e.message : 'Cannot reach the appliance.');
          setLoading(false);
        },
      ),
    [],
  );

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    // Any 401 means the session is gone: drop the user, the router then shows the login page.
    setUnauthorizedHandler(() => setUser(null));
    return () => setUnauthorizedHandler(null);
  }, []);

  const signedIn = useCallback((u: User) => {
    setSetupRequired(false);
    setUser(u);
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setUser(null);
    }
  }, []);

  const value = useMemo(
    () => ({ loading, loadError, setupRequired, user, signedIn, logout, refresh }),
    [loading, loadError, setupRequired, user, signedIn, logout, refresh],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
