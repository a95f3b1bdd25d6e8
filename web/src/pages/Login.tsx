// Sign in with username and password.

import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';
import { api } from '../api';
import { useAuth } from '../auth';
import AuthCard from '../components/AuthCard';
import { Alert, TextField } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { mapApiError, NO_ERRORS } from '../lib/errors';

const FIELDS = ['username', 'password'] as const;

export default function Login() {
  const { user, signedIn } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from || '/';
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const login = useAction(() => api.login(username.trim(), password));
  const errors = login.error ? mapApiError(login.error, FIELDS) : NO_ERRORS;
  const busy = login.busy;

  if (user) return <Navigate to={from} replace />;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await login.run();
    if (!res) return setPassword('');
    signedIn(res.user);
    navigate(from, { replace: true });
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
