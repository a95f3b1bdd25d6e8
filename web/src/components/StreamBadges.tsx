// Pills for a stream's state, an output's state and a destination's platform.

import { outputStateStyle, platformInfo, streamStateStyle } from '../lib/streaming';

function Pill({
  label,
  cls,
  dot,
  pulse,
  testId,
}: {
  label: string;
  cls: string;
  dot?: string;
  pulse?: boolean;
  testId?: string;
}) {
  return (
    <span
      className={`inline-flex items-center gap-1.5 whitespace-nowrap rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset ${cls}`}
      data-testid={testId}
    >
      {dot && <span className={`h-1.5 w-1.5 rounded-full ${dot} ${pulse ? 'animate-pulse' : ''}`} aria-hidden="true" />}
      {label}
    </span>
  );
}

export function StreamStateBadge({ state }: { state: string }) {
  const s = streamStateStyle(state);
  return <Pill {...s} testId="stream-state" />;
}

export function OutputStateBadge({ state }: { state: string }) {
  const s = outputStateStyle(state);
  return <Pill label={s.label} cls={s.cls} dot={s.dot} testId="output-state" />;
}

export function PlatformBadge({ platform }: { platform: string }) {
  const p = platformInfo(platform);
  return <Pill label={p.label} cls={p.badge} testId="platform-badge" />;
}
