// Routes: the first-run set-up and login pages outside the shell, everything else inside it.

import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth } from './auth';
import Layout from './components/Layout';
import { Alert, LoadingState, Logo } from './components/ui';
import Account from './pages/Account';
import CameraDetail from './pages/CameraDetail';
import CameraForm from './pages/CameraForm';
import Cameras from './pages/Cameras';
import Dashboard from './pages/Dashboard';
import Destinations from './pages/Destinations';
import Events from './pages/Events';
import Login from './pages/Login';
import NotFound from './pages/NotFound';
import Overlays from './pages/Overlays';
import Program from './pages/Program';
import Setup from './pages/Setup';
import Streams from './pages/Streams';
import StudioLink from './pages/StudioLink';
import Timelines from './pages/Timelines';

function Boot() {
  const { loadError, refresh } = useAuth();
  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-100 p-6">
      <div className="w-full max-w-sm text-center">
        <Logo className="mx-auto mb-6 h-12 w-12" />
        {loadError ? (
          <div className="space-y-4 text-left">
            <Alert title="Cannot reach the appliance">{loadError}</Alert>
            <button type="button" className="btn-primary w-full" onClick={() => void refresh()}>
              Try again
            </button>
          </div>
        ) : (
          <LoadingState label="Connecting to the appliance…" />
        )}
      </div>
    </div>
  );
}

function RequireUser({ children }: { children: JSX.Element }) {
  const { user, setupRequired } = useAuth();
  const location = useLocation();
  if (setupRequired) return <Navigate to="/setup" replace />;
  if (!user) {
    const from = location.pathname + location.search;
    return <Navigate to="/login" replace state={{ from }} />;
  }
  return children;
}

export default function App() {
  const { loading, loadError, user, setupRequired } = useAuth();
  if (loading || (loadError && !user)) return <Boot />;

  return (
    <Routes>
      <Route path="/setup" element={setupRequired ? <Setup /> : <Navigate to={user ? '/' : '/login'} replace />} />
      <Route path="/login" element={setupRequired ? <Navigate to="/setup" replace /> : <Login />} />
      <Route
        element={
          <RequireUser>
            <Layout />
          </RequireUser>
        }
      >
        <Route index element={<Dashboard />} />
        <Route path="cameras" element={<Cameras />} />
        <Route path="cameras/new" element={<CameraForm />} />
        <Route path="cameras/:id" element={<CameraDetail />} />
        <Route path="cameras/:id/edit" element={<CameraForm />} />
        <Route path="streams" element={<Streams />} />
        <Route path="destinations" element={<Destinations />} />
        <Route path="program" element={<Program />} />
        <Route path="overlays" element={<Overlays />} />
        <Route path="timelines" element={<Timelines />} />
        <Route path="studio-link" element={<StudioLink />} />
        <Route path="events" element={<Events />} />
        <Route path="account" element={<Account />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
