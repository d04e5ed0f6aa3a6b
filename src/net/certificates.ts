// The server's TLS certificate: the configured files, or a self-signed
// certificate for the served domains generated into the data directory on
// first start (clients must be told to accept it; see the README).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { generate } from "selfsigned";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";

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

/** Checks that the certificate parses, is current, and names every served domain. */
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
  for (const d of domains) if (x509.checkHost(d) === undefined) problems.push(`does not cover the domain ${d}`);
  return problems;
}

export async function loadOrCreateCertificate(config: ServerConfig, log: Logger): Promise<ServerCertificate> {
  if (config.tls.certFile !== undefined && config.tls.keyFile !== undefined) {
    const cert = read(config.tls.certFile);
    const key = read(config.tls.keyFile);
    for (const p of certificateProblems(cert, config.domains)) log.warn("certificate problem", { file: config.tls.certFile, problem: p });
    return { key, cert, certFile: config.tls.certFile, selfSigned: false };
  }
  const dir = path.join(config.dataDir, "tls");
  const name = config.domains[0] ?? "localhost";
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = read(certFile);
    if (certificateProblems(cert, config.domains).length === 0) return { key: read(keyFile), cert, certFile, selfSigned: true };
    log.info("the self-signed certificate no longer fits the configuration; making a new one", { file: certFile });
  }
  mkdirSync(dir, { recursive: true });
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 2);
  const pems = await generate([{ name: "commonName", value: name }], {
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
    file: certFile, domains: config.domains.join(","), fingerprint: pems.fingerprint,
  });
  return { key: pems.private, cert: pems.cert, certFile, selfSigned: true };
}
