// First run: create the administrator account.

import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { ApiError, api } from '../api';
import { useAuth } from '../auth';
import AuthCard from '../components/AuthCard';
import { Alert, TextField } from '../components/ui';
import { useAction } from '../hooks/useAction';
import { mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';

const FIELDS = ['username', 'password', 'confirm'] as const;

export default function Setup() {
  const { signedIn, refresh } = useAuth();
  const navigate = useNavigate();
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const setup = useAction(() =>
    api.setup(username.trim(), password).catch((err: unknown) => {
      // Someone else finished the set-up meanwhile: go to the login page.
      if (err instanceof ApiError && err.code === 'conflict') void refresh();
      throw err;
    }),
  );
  const errors: FormErrors = mismatch
    ? { fields: { confirm: 'The passwords do not match.' }, form: null }
    : setup.error
      ? mapApiError(setup.error, FIELDS)
      : NO_ERRORS;
  const busy = setup.busy;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setMismatch(password !== confirm);
    if (password !== confirm) return setup.reset();
    const res = await setup.run();
    if (!res) return;
    signedIn(res.user);
    navigate('/', { replace: true });
  };

  return (
    <AuthCard
      title="Welcome to VistterStream"
      subtitle="Create the administrator account to finish setting up this appliance."
    >
      <form onSubmit={(e) => void onSubmit(e)} className="space-y-4" noValidate>
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField
          id="username"
          label="Username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          error={errors.fields.username}
          hint="Letters, digits and . _ - @"
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.fields.password}
          hint="At least 8 characters."
        />
        <TextField
          id="confirm"
          label="Confirm password"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          error={errors.fields.confirm}
        />
        <button type="submit" className="btn-primary w-full" disabled={busy}>
          {busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
    </AuthCard>
  );
}
