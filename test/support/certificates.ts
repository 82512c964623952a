/**
 * A throwaway certificate authority for TLS tests: a CA certificate and serving pairs it
 * signs (ECDSA P-256, PEM), as cert-manager or the chart would hand them to the webhook.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ServingPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TestCa {
  /** PEM of the CA certificate: what a client (the API server's caBundle) trusts. */
  readonly certPem: string;
  /** A serving certificate for these names, signed by this CA. */
  issue(
    names: { dns?: readonly string[]; ips?: readonly string[] },
    cn?: string,
  ): Promise<ServingPair>;
}

let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(2, '0');

type KeyPair = webcrypto.CryptoKeyPair;

async function keyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

export async function createTestCa(name = 'vidispine-auth-proxy test CA'): Promise<TestCa> {
  const keys = await keyPair();
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 30 * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  return {
    certPem: ca.toString('pem'),
    async issue({ dns = [], ips = [] }, cn = dns[0] ?? ips[0] ?? 'webhook') {
      const leaf = await keyPair();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: `CN=${cn}`,
        issuer: ca.subject,
        notBefore: new Date(now - DAY_MS),
        notAfter: new Date(now + 7 * DAY_MS),
        publicKey: leaf.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.SubjectAlternativeNameExtension([
            ...dns.map((value) => ({ type: 'dns' as const, value })),
            ...ips.map((value) => ({ type: 'ip' as const, value })),
          ]),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ],
      });
      return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(leaf.privateKey) };
    },
  };
}
