// The one minimum length of every secret and token Floodgate accepts, however it arrives (flag,
// environment, file, config field): a 1-character control token is as good as none.
export const MIN_SECRET_LENGTH = 8;

/** "what: why" when `value` is too short to be a secret; undefined when long enough. */
export function weakSecret(value: string, what: string): string | undefined {
  return value.length < MIN_SECRET_LENGTH ? `${what}: must be at least ${MIN_SECRET_LENGTH} characters (got ${value.length})` : undefined;
}
