// Maps API errors onto a form: a message next to the named field, or one alert for the form.

import { ApiError } from '../api';

export interface FormErrors {
  fields: Record<string, string>;
  form: string | null;
}

export const TEST_UNAVAILABLE = 'Connection testing is not available on this appliance yet.';

export const NO_ERRORS: FormErrors = { fields: {}, form: null };

/**
 * `knownFields` are the fields the form shows; `aliases` maps a server field name onto one of
 * them (e.g. the server may name `onvif_port` where the form shows it). An error naming a field
 * the form does not show is a form-level alert, so it is never lost.
 */
export function mapApiError(
  err: unknown,
  knownFields: readonly string[],
  aliases: Record<string, string> = {},
  notAvailableMessage?: string,
): FormErrors {
  if (err instanceof ApiError) {
    if (notAvailableMessage && err.notAvailable && !err.field) return { fields: {}, form: notAvailableMessage };
    const field = err.field ? (aliases[err.field] ?? err.field) : undefined;
    if (field && knownFields.includes(field)) {
      return { fields: { [field]: sentence(err.message) }, form: null };
    }
    if (err.field) {
      // Name the field in words, since the message is not shown next to it.
      return { fields: {}, form: `${sentence(humanizeField(err.field))}: ${err.message}` };
    }
    if (err.status === 429 && err.retryAfter) {
      return { fields: {}, form: `${sentence(err.message)} (try again in ${formatWait(err.retryAfter)})` };
    }
    return { fields: {}, form: sentence(err.message) };
  }
  if (err instanceof Error && err.message) return { fields: {}, form: err.message };
  return { fields: {}, form: 'Something went wrong. Please try again.' };
}

/** Server messages may start in lower case ("must not be empty"); the UI shows sentences. */
export function sentence(message: string): string {
  const m = message.trim();
  return m ? m[0].toUpperCase() + m.slice(1) : m;
}

/** "onvif_port" → "onvif port". */
export function humanizeField(field: string): string {
  return field.replace(/[_.]+/g, ' ').trim();
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const m = Math.ceil(seconds / 60);
  return `${m} min`;
}

/** Message for a failed load of a page's data. */
export function describeLoadError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.notAvailable) return 'Not available on this appliance.';
    return sentence(err.message);
  }
  return 'Something went wrong while loading.';
}
