import { authChallenge, bearerTokenChecker, parseBearerToken } from '../../../src/intake/auth';

describe('parseBearerToken (the token file)', () => {
  it.each([
    ['s3cret', 's3cret'],
    ['s3cret\n', 's3cret'],
    ['s3cret\r\n', 's3cret'],
  ])('when the file holds %p then the token is %p', (text, token) => {
    expect(parseBearerToken(text)).toEqual({ ok: true, token });
  });

  it.each(['', '\n', '\r\n'])('when the file holds %p then it is refused as empty', (text) => {
    expect(parseBearerToken(text)).toEqual({ ok: false, reason: 'is empty' });
  });

  it.each(['two words', 's3cret\n\n', ' s3cret', 's3cret\t', 'caf\u00e9', 'a\u0000b'])(
    'when the file holds %p then it is refused (a header could not carry it verbatim)',
    (text) => {
      expect(parseBearerToken(text)).toMatchObject({
        ok: false,
        reason: expect.stringContaining('visible ASCII'),
      });
    },
  );
});

describe('bearerTokenChecker', () => {
  const check = bearerTokenChecker('s3cret-token');

  it('when the header carries the token then it passes, whatever the scheme case', () => {
    expect(check('Bearer s3cret-token')).toBeNull();
    expect(check('bearer s3cret-token')).toBeNull();
    expect(check('BEARER   s3cret-token ')).toBeNull();
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic czNjcmV0LXRva2Vu', 's3cret-token', 'Bearer a b'])(
    'when the header is %p then the token is missing',
    (header) => {
      expect(check(header)).toBe('missing');
    },
  );

  it.each(['Bearer s3cret-tokeN', 'Bearer s3cret-token-and-more', 'Bearer s', 'Bearer s3cret-toke'])(
    'when the header is %p then the token is invalid (any length)',
    (header) => {
      expect(check(header)).toBe('invalid');
    },
  );
});

describe('authChallenge', () => {
  it('names the realm, and says invalid_token when a token was sent (RFC 6750 §3)', () => {
    expect(authChallenge('missing')).toBe('Bearer realm="remediation-intake"');
    expect(authChallenge('invalid')).toBe('Bearer realm="remediation-intake", error="invalid_token"');
  });
});
