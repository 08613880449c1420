/**
 * Bearer-token authentication of the webhook (RFC 6750 `Authorization: Bearer <token>`), as
 * Alertmanager sends it with `http_config.authorization.credentials_file`. The token is compared
 * in constant time over SHA-256 digests of both sides, so neither its content nor its length
 * leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The realm of the `WWW-Authenticate` challenge on a 401. */
export const AUTH_REALM = 'remediation-intake';

/**
 * How the intake authenticates webhook calls. There is no default: whoever builds a server says
 * which one it is, and `allowUnauthenticated` is spelled out.
 */
export type IntakeAuth = { bearerToken: string } | { allowUnauthenticated: true };

/** Why a request was refused: no usable `Authorization: Bearer` header, or a different token. */
export type AuthFailure = 'missing' | 'invalid';

// Visible ASCII only: what an HTTP header carries verbatim (Alertmanager trims the file's spaces).
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Checks a token read from a file: one trailing newline (`\n` or `\r\n`) is dropped, as editors and
 * `kubectl create secret --from-file` leave it; empty or whitespace-holding tokens are refused.
 * Returns the token, or why it is unusable.
 */
export function parseBearerToken(text: string): { ok: true; token: string } | { ok: false; reason: string } {
  const token = text.replace(/\r?\n$/, '');
  if (token === '') return { ok: false, reason: 'is empty' };
  if (!TOKEN.test(token)) {
    return {
      ok: false,
      reason: 'must hold one line of visible ASCII characters (no spaces, tabs or control characters)',
    };
  }
  return { ok: true, token };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** A checker for one configured token; its digest is computed once. */
export function bearerTokenChecker(token: string): (header: string | undefined) => AuthFailure | null {
  const expected = digest(token);
  return (header) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    if (!match) return 'missing';
    return timingSafeEqual(digest(match[1] ?? ''), expected) ? null : 'invalid';
  };
}

/** The `WWW-Authenticate` challenge for a refusal (RFC 6750 §3: `invalid_token` when one was sent). */
export function authChallenge(failure: AuthFailure): string {
  const base = `Bearer realm="${AUTH_REALM}"`;
  return failure === 'invalid' ? `${base}, error="invalid_token"` : base;
}
