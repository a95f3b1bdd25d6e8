// Sign in with username and password.

import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';
import { api } from '../api';
import { useAuth } from '../auth';
import AuthCard from '../components/AuthCard';
import { Alert, TextField } from '../components/ui';
import { mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';

const FIELDS = ['username', 'password'] as const;

export default function Login() {
  const { user, signedIn } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from || '/';
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  if (user) return <Navigate to={from} replace />;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const res = await api.login(username.trim(), password);
      signedIn(res.user);
      navigate(from, { replace: true });
    } catch (err) {
      const mapped = mapApiError(err, FIELDS);
      setErrors(mapped);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title="Sign in" subtitle="Use your VistterStream account.">
      <form onSubmit={(e) => void onSubmit(e)} className="space-y-4" noValidate>
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField
          id="username"
          label="Username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          autoFocus
          error={errors.fields.username}
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.fields.password}
        />
        <button type="submit" className="btn-primary w-full" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </AuthCard>
  );
}
