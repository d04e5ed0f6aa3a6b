// `parley check`, in the manner of `prosodyctl check`: the configuration,
// the certificate, the data directory and the ports, each reported with
// what is wrong and where.
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { validateConfig, type ServerConfig } from "../config.js";
import { certificateProblems } from "../net/certificates.js";
import { dataDirModeProblems, describeMode } from "../util/file-modes.js";

export interface CheckResult {
  ok: string[];
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
  const result: CheckResult = { ok: [], problems: [] };
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
    result.ok.push("certificate: none configured; a self-signed one is made in the data directory at start");
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
  for (const [name, port] of [["c2s port", config.c2s.port], ["Direct TLS port", config.c2s.directTlsPort], ["WebSocket port", config.http.port]] as const) {
    const problem = await portFree(config.c2s.host, port);
    if (problem) result.problems.push(`${name} ${config.c2s.host}:${port} ${problem}`);
    else result.ok.push(`${name} ${config.c2s.host}:${port}: free`);
  }
  return result;
}
