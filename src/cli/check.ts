// `parley check`, in the manner of `prosodyctl check`: the configuration,
// the certificate, the data directory and the ports, each reported with
// what is wrong and where.
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { validateConfig, type ServerConfig } from "../config.js";
import { certificateProblems, selfSignedPaths, sha256Fingerprint } from "../net/certificates.js";
import { dataDirModeProblems, describeMode } from "../util/file-modes.js";
import { askServer } from "../ops/admin-socket.js";
import type { ServerStatus } from "../ops/status.js";

export interface CheckResult {
  ok: string[];
  /** Not wrong, but worth knowing before `parley start` (a certificate about to be replaced). */
  notes: string[];
  problems: string[];
}

function portFree(host: string, port: number): Promise<string | undefined> {
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "EADDRINUSE" ? "is in use (is a server already running?)" : err.message));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

export async function checkConfiguration(config: ServerConfig): Promise<CheckResult> {
  const result: CheckResult = { ok: [], notes: [], problems: [] };
  try {
    validateConfig(config);
    result.ok.push(`configuration: domains ${config.domains.join(", ")}`);
  } catch (err) {
    result.problems.push((err as Error).message);
    return result;
  }
  // Certificate: the configured one must exist, parse, match its key and cover every domain.
  if (config.tls.certFile !== undefined && config.tls.keyFile !== undefined) {
    try {
      const cert = readFileSync(config.tls.certFile, "utf8");
      const key = readFileSync(config.tls.keyFile, "utf8");
      const problems = certificateProblems(cert, config.domains);
      if (problems.length === 0 && !new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
        problems.push(`does not match the key in ${config.tls.keyFile}`);
      }
      if (problems.length === 0) result.ok.push(`certificate ${config.tls.certFile}: valid for ${config.domains.join(", ")}`);
      for (const p of problems) result.problems.push(`certificate ${config.tls.certFile}: ${p}`);
    } catch (err) {
      result.problems.push(`certificate: ${(err as Error).message}`);
    }
  } else {
    selfSignedCertificate(config, result);
  }
  // A server already running on this data directory owns its ports: they are not a problem.
  let running: ServerStatus | undefined;
  try {
    running = await askServer(config.dataDir, { command: "status" }) as ServerStatus | undefined;
  } catch (err) {
    result.problems.push(`admin socket: ${(err as Error).message}`);
  }
  if (running !== undefined) {
    result.ok.push(`server: Parley ${running.version} is running on this data directory (pid ${running.pid}, since ${running.startedAt})`);
    const added = config.domains.filter((d) => !running.domains.includes(d));
    const removed = running.domains.filter((d) => !config.domains.includes(d));
    if (added.length > 0 || removed.length > 0) {
      result.notes.push(`server: it serves ${running.domains.join(", ")}; the configuration ${added.length > 0 ? `adds ${added.join(", ")}` : ""}${added.length > 0 && removed.length > 0 ? " and " : ""}${removed.length > 0 ? `drops ${removed.join(", ")}` : ""}: send it SIGHUP (or restart it) to apply`);
    }
  }
  if (existsSync(config.dataDir)) {
    try {
      accessSync(config.dataDir, constants.W_OK);
      result.ok.push(`data directory ${config.dataDir}: writable`);
      const modes = dataDirModeProblems(config.dataDir);
      for (const p of modes) result.problems.push(`data directory: ${describeMode(p)} (parley start narrows it)`);
      if (modes.length === 0) result.ok.push(`data directory ${config.dataDir}: readable by the server's user only`);
    } catch {
      result.problems.push(`data directory ${config.dataDir}: not writable`);
    }
  } else {
    result.ok.push(`data directory ${config.dataDir}: will be created`);
  }
  for (const [name, port, key] of [["c2s port", config.c2s.port, "c2s"], ["Direct TLS port", config.c2s.directTlsPort, "directTls"], ["WebSocket port", config.http.port, "http"]] as const) {
    if (running !== undefined && running.ports[key] === port && running.hosts.includes(config.c2s.host)) {
      result.ok.push(`${name} ${config.c2s.host}:${port}: in use by the running server`);
      continue;
    }
    const problem = await portFree(config.c2s.host, port);
    if (problem) result.problems.push(`${name} ${config.c2s.host}:${port} ${problem}`);
    else result.ok.push(`${name} ${config.c2s.host}:${port}: free`);
  }
  return result;
}

/**
 * No certificate configured: the self-signed one in DATA/tls, if there is
 * one, is used only while it covers every domain; otherwise `start` makes a
 * new one, and every client that trusted the old one warns again.
 */
function selfSignedCertificate(config: ServerConfig, result: CheckResult): void {
  const { certFile, keyFile } = selfSignedPaths(config);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    result.ok.push(`certificate: none configured; parley start makes a self-signed one for ${config.domains.join(", ")} in ${certFile}`);
    return;
  }
  let cert: string;
  try {
    cert = readFileSync(certFile, "utf8");
  } catch (err) {
    result.problems.push(`certificate ${certFile}: cannot read it (${(err as Error).message})`);
    return;
  }
  const problems = certificateProblems(cert, config.domains);
  if (problems.length === 0) {
    result.ok.push(`certificate ${certFile}: self-signed, valid for ${config.domains.join(", ")} (SHA-256 ${sha256Fingerprint(cert)})`);
    return;
  }
  result.notes.push(`certificate ${certFile}: self-signed, and it ${problems.join("; ")}: parley start will replace it with a new one, ` +
    "and clients that trusted the old one will ask again (configure tls.cert and tls.key to keep one certificate)");
}
