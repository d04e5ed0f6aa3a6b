// The server's TLS certificate: the configured files, or a self-signed
// certificate for the served domains generated into the data directory on
// first start (clients must be told to accept it; see the README).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { generate } from "selfsigned";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import { certificateNames } from "../s2s/certificate.js";

export interface ServerCertificate {
  key: string;
  cert: string;
  certFile: string;
  selfSigned: boolean;
}

export class CertificateError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "CertificateError";
  }
}

function read(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new CertificateError(file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Checks that the certificate parses, is current, and names every served
 * domain, by the rules a peer applies (certificateNames, src/s2s/certificate.ts):
 * a DNS-ID, an xmppAddr or an SRV-ID (RFC 6120 §13.7.1.2, RFC 6125 §6.4-6.5),
 * the subject's CN only when there is no subjectAltName.
 */
export function certificateProblems(cert: string, domains: readonly string[], now = new Date()): string[] {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return [`not a PEM certificate: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  if (new Date(x509.validTo) < now) problems.push(`expired on ${x509.validTo}`);
  if (new Date(x509.validFrom) > now) problems.push(`not valid before ${x509.validFrom}`);
  for (const d of domains) if (!certificateNames(x509.raw, d)) problems.push(`does not cover the domain ${d}`);
  return problems;
}

/** The SHA-256 fingerprint clients show when asking to trust a certificate ("AB:CD:…"). */
export function sha256Fingerprint(cert: string): string {
  return new X509Certificate(cert).fingerprint256;
}

/** Where `parley start` keeps the self-signed certificate for this configuration. */
export function selfSignedPaths(config: ServerConfig): { certFile: string; keyFile: string } {
  const dir = path.join(config.dataDir, "tls");
  const name = config.domains[0] ?? "localhost";
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
}

export async function loadOrCreateCertificate(config: ServerConfig, log: Logger): Promise<ServerCertificate> {
  if (config.tls.certFile !== undefined && config.tls.keyFile !== undefined) {
    const cert = read(config.tls.certFile);
    const key = read(config.tls.keyFile);
    for (const p of certificateProblems(cert, config.domains)) log.warn("certificate problem", { file: config.tls.certFile, problem: p });
    return { key, cert, certFile: config.tls.certFile, selfSigned: false };
  }
  const { certFile, keyFile } = selfSignedPaths(config);
  const dir = path.dirname(certFile);
  const name = config.domains[0] ?? "localhost";
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = read(certFile);
    const problems = certificateProblems(cert, config.domains);
    if (problems.length === 0) return { key: read(keyFile), cert, certFile, selfSigned: true };
    log.warn("the self-signed certificate no longer fits the configuration; making a new one (clients that trusted the old one will ask again)", {
      file: certFile, problems: problems.join("; "),
    });
  }
  mkdirSync(dir, { recursive: true });
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 2);
  const pems = await generate([{ name: "commonName", value: name }], {
    // selfsigned signs with SHA-1 unless told otherwise; clients (and RFC 9325 §4.2) want SHA-256.
    algorithm: "sha256",
    keyType: "ec",
    curve: "P-256",
    notAfterDate: notAfter,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: config.domains.map((d) => ({ type: 2 as const, value: d })) },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert);
  log.info("generated a self-signed TLS certificate; clients must be told to trust it", {
    file: certFile, domains: config.domains.join(","), sha256: sha256Fingerprint(pems.cert),
  });
  return { key: pems.private, cert: pems.cert, certFile, selfSigned: true };
}
