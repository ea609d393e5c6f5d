/** Keys that documentation, examples or old manifests have shown: a service started with one is open to anyone. */
export const PLACEHOLDER_KEYS: readonly string[] = [
  'change-me', 'change-me-bootstrap-key', 'changeme', 'change_me', 'replace-me', 'secret', 'password', 'vdet', 'vdet_…', 'example',
];
const MIN_SECRET_LENGTH = 32;

/** Why a configured secret (a bootstrap key, a signing key, a token) is unusable; undefined when it is fine. */
export function secretProblem(name: string, value: string): string | undefined {
  const lower = value.toLowerCase();
  if (PLACEHOLDER_KEYS.includes(lower) || lower.startsWith('change-me') || lower.startsWith('changeme')) {
    return `${name} is a documented placeholder: generate one, e.g. \`openssl rand -hex 24\``;
  }
  if (value.length < MIN_SECRET_LENGTH) {
    return `${name} must be at least ${MIN_SECRET_LENGTH} characters (it has ${value.length}): generate one, e.g. \`openssl rand -hex 24\``;
  }
  return undefined;
}
