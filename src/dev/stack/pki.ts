/**
 * Local certificate authorities for the stacks' TLS servers (API servers, the Temporal frontend):
 * one CA, then one certificate per entry, each signed by it, made with the `openssl` binary.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertificateSpec {
  /** File stem: `<name>.crt` and `<name>.key`. */
  name: string;
  /** openssl `-subj`, e.g. `/O=system:masters/CN=admin`. */
  subject: string;
  /** e.g. `IP:127.0.0.1`, `DNS:localhost`; servers only. */
  subjectAltNames?: string[];
  extendedKeyUsage: ('serverAuth' | 'clientAuth')[];
}

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Pki<Name extends string> {
  ca: KeyPair;
  certs: Record<Name, KeyPair>;
}

export interface PkiOptions<Name extends string> {
  /** CA subject, e.g. `/CN=remediation-stack-ca`. */
  caSubject: string;
  certs: (CertificateSpec & { name: Name })[];
  days?: number;
  /** Keep the files of an earlier run when all are there (stable kubeconfigs, restarts). */
  reuse?: boolean;
}

/** Writes `ca.crt`/`ca.key` and each certificate into `dir`; returns their paths. */
export async function makePki<Name extends string>(dir: string, opts: PkiOptions<Name>): Promise<Pki<Name>> {
  mkdirSync(dir, { recursive: true });
  const p = (f: string): string => join(dir, f);
  const pair = (name: string): KeyPair => ({ cert: p(`${name}.crt`), key: p(`${name}.key`) });
  const pki: Pki<Name> = {
    ca: pair('ca'),
    certs: Object.fromEntries(opts.certs.map((c) => [c.name, pair(c.name)])) as Record<Name, KeyPair>,
  };
  const files = [pki.ca, ...Object.values<KeyPair>(pki.certs)].flatMap((k) => [k.cert, k.key]);
  if (opts.reuse && files.every((f) => existsSync(f))) return pki;

  const days = String(opts.days ?? 3650);
  const ossl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await ossl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    days,
    '-subj',
    opts.caSubject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  for (const spec of opts.certs) {
    const ext = [`extendedKeyUsage=${spec.extendedKeyUsage.join(',')}`];
    if (spec.subjectAltNames?.length) ext.unshift(`subjectAltName=${spec.subjectAltNames.join(',')}`);
    writeFileSync(p(`${spec.name}.ext`), ext.join('\n') + '\n');
    const [csr, crt, key] = [`${spec.name}.csr`, `${spec.name}.crt`, `${spec.name}.key`];
    await ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', spec.subject);
    await ossl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      crt,
      '-days',
      days,
      '-extfile',
      `${spec.name}.ext`,
    );
  }
  return pki;
}
