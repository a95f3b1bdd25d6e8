// First run: create the administrator account.

import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { api } from '../api';
import { useAuth } from '../auth';
import AuthCard from '../components/AuthCard';
import { Alert, TextField } from '../components/ui';
import { mapApiError, NO_ERRORS, type FormErrors } from '../lib/errors';

const FIELDS = ['username', 'password', 'confirm'] as const;

export default function Setup() {
  const { signedIn, refresh } = useAuth();
  const navigate = useNavigate();
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    if (password !== confirm) {
      setErrors({ fields: { confirm: 'The passwords do not match.' }, form: null });
      return;
    }
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const { user } = await api.setup(username.trim(), password);
      signedIn(user);
      navigate('/', { replace: true });
    } catch (err) {
      const mapped = mapApiError(err, FIELDS);
      setErrors(mapped);
      // Someone else finished the set-up meanwhile: go to the login page.
      if ((err as { code?: string }).code === 'conflict') void refresh();
    } finally {
      setBusy(false);
    }
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
