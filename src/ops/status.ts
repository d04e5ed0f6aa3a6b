// What a running server says about itself on the admin socket
// (`parley status`), and how the CLI prints it.
import type { ConnectionSummary } from "./connections.js";

export interface ServerStatus {
  pid: number;
  version: string;
  node: string;
  startedAt: string;
  uptimeSeconds: number;
  domains: string[];
  dataDir: string;
  /** The addresses listened on: the first, then the extra ones (c2s.bind). */
  hosts: string[];
  ports: { c2s: number; directTls: number; http: number; metrics?: string; s2s?: string };
  certificate: { file: string; selfSigned: boolean; sha256: string; validTo: string };
  connections: ConnectionSummary;
  /** Account actors in memory (users with sessions, or recently active). */
  accountsRunning: number;
  accounts: number;
  modules: string[];
  logLevel: string;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

export function statusLines(s: ServerStatus): string[] {
  const c = s.connections;
  return [
    `Parley ${s.version} (Node ${s.node}), pid ${s.pid}, up ${duration(s.uptimeSeconds)} (since ${s.startedAt})`,
    `domains:      ${s.domains.join(", ")}`,
    `listening:    ${s.hosts.join(", ")}: c2s ${s.ports.c2s}, Direct TLS ${s.ports.directTls}, HTTP ${s.ports.http}${s.ports.metrics !== undefined ? `; metrics ${s.ports.metrics}` : ""}${s.ports.s2s !== undefined ? `; s2s ${s.ports.s2s}` : ""}`,
    `connections:  ${c.total} (tcp ${c.byTransport.tcp}, tls ${c.byTransport.tls}, websocket ${c.byTransport.websocket}); ${c.bound} bound resources of ${c.users} users`,
    `accounts:     ${s.accounts} (${s.accountsRunning} in memory)`,
    `certificate:  ${s.certificate.file}${s.certificate.selfSigned ? " (self-signed)" : ""}, valid until ${s.certificate.validTo}, SHA-256 ${s.certificate.sha256}`,
    `data:         ${s.dataDir}`,
    `log level:    ${s.logLevel}`,
    `modules:      ${s.modules.join(", ")}`,
  ];
}
