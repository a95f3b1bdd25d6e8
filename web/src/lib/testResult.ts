// Words for the outcome of a camera connection test.

import type { TestResult } from '../api';
import { formatStreamInfo } from './format';

const KIND_TEXT: Record<string, string> = {
  auth_failed: 'The camera refused the username or password.',
  unreachable: 'The camera could not be reached. Check the address, the port and that the camera is on the network.',
  not_found: 'The camera answered, but there is no stream at this path.',
  timeout: 'The camera did not answer in time.',
  protocol: 'The camera answered in a way that could not be understood. Check the protocol and the path.',
};

export function describeTestResult(r: TestResult): { ok: boolean; title: string; detail: string } {
  if (r.reachable) {
    const info = formatStreamInfo(r);
    return { ok: true, title: 'Connection successful', detail: info || 'The camera is streaming.' };
  }
  const base = (r.error_kind && KIND_TEXT[r.error_kind]) || 'The connection test failed.';
  const extra = r.message && r.message !== base ? r.message : '';
  return { ok: false, title: 'Connection failed', detail: extra ? `${base} (${extra})` : base };
}
