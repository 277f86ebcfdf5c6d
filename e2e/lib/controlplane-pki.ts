// Key material for a throwaway control plane: a CA, the apiserver's serving certificate (valid
// for 127.0.0.1 and localhost only), the service-account signing key pair and bearer tokens.
// openssl signs the certificates because node:crypto can parse X.509 but not issue it.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  caCert: string;         // path, PEM
  caCertPem: string;
  caKey: string;          // path
  servingCert: string;    // path
  servingKey: string;     // path
  saPublicKey: string;    // path
  saPrivateKey: string;   // path
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl ${args[0]} failed: ${(err as { stderr?: Buffer }).stderr?.toString() ?? err}`, { cause: err });
  }
}

/**
 * Writes the PKI into `dir` (which must exist). EC P-256 keys: fast to make, accepted everywhere.
 * `extraSans` (e.g. `IP:10.1.2.3`, `DNS:kubernetes.default`) are added to the apiserver's certificate.
 */
export function writePki(dir: string, opts: { extraSans?: string[] } = {}): Pki {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', caCert, '-days', '3650', '-subj', '/CN=floodgate-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const servingCert = join(dir, 'apiserver.crt');
  const servingKey = join(dir, 'apiserver.key');
  openssl(['req', '-x509', ...ec, '-CA', caCert, '-CAkey', caKey, '-keyout', servingKey, '-out', servingCert,
    '-days', '3650', '-subj', '/CN=kube-apiserver', '-addext', `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...(opts.extraSans ?? [])].join(',')}`,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
  const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const saPublicKey = join(dir, 'sa.pub');
  const saPrivateKey = join(dir, 'sa.key');
  writeFileSync(saPublicKey, sa.publicKey);
  writeFileSync(saPrivateKey, sa.privateKey, { mode: 0o600 });
  return { caCert, caCertPem: readFileSync(caCert, 'utf8'), caKey, servingCert, servingKey, saPublicKey, saPrivateKey };
}

/** A client certificate signed by the PKI's CA (CN = user, O = each group); returns [cert, key] paths. */
export function issueClientCert(pki: Pki, dir: string, name: string, user: string, groups: string[] = []): [string, string] {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const subj = `/CN=${user}` + groups.map((g) => `/O=${g}`).join('');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-CA', pki.caCert,
    '-CAkey', pki.caKey, '-keyout', key, '-out', cert, '-days', '3650', '-subj', subj,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=clientAuth']);
  return [cert, key];
}

export interface TokenUser {
  token: string;
  user: string;
  groups: string[];
}

export function newToken(user: string, groups: string[]): TokenUser {
  return { token: randomBytes(24).toString('hex'), user, groups };
}

/** The apiserver's --token-auth-file: `token,user,uid,"group1,group2"` per line. */
export function writeTokenFile(path: string, users: TokenUser[]): void {
  writeFileSync(path, users.map((u) => `${u.token},${u.user},${u.user},"${u.groups.join(',')}"\n`).join(''), { mode: 0o600 });
}

/** A kubeconfig with the CA pinned (no skip-verify) and a bearer token. */
export function writeKubeconfig(path: string, server: string, caPem: string, user: TokenUser): void {
  const ca = Buffer.from(caPem).toString('base64');
  writeFileSync(path, [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: floodgate-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user.user}`,
    '  user:',
    `    token: ${user.token}`,
    'contexts:',
    '- name: floodgate-test',
    '  context:',
    '    cluster: floodgate-test',
    `    user: ${user.user}`,
    '    namespace: default',
    'current-context: floodgate-test',
    '',
  ].join('\n'), { mode: 0o600 });
}
