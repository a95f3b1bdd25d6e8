import type { TestResult } from '../api';
import { describeTestResult } from '../lib/testResult';

export default function TestResultBox({ result }: { result: TestResult }) {
  const d = describeTestResult(result);
  return (
    <div
      role="status"
      data-testid="test-result"
      className={`rounded-lg border px-4 py-3 text-sm ${
        d.ok ? 'border-emerald-200 bg-emerald-50 text-emerald-800' : 'border-red-200 bg-red-50 text-red-800'
      }`}
    >
      <p className="font-semibold">{d.title}</p>
      <p className="mt-0.5">{d.detail}</p>
    </div>
  );
}
