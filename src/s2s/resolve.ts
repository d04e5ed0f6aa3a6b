// Where a remote domain's server is (RFC 6120 §3.2, XEP-0368): the static
// [s2s.routes] table first, then SRV _xmpps-server._tcp (Direct TLS) and
// _xmpp-server._tcp (STARTTLS) in priority and weight order, then the
// domain's own address records at port 5269 (§3.2.2's fallback).
import { promises as dns } from "node:dns";
import { parseHostPort } from "../config.js";

export interface S2sTarget {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte, no STARTTLS. */
  directTls: boolean;
}

export type SrvLookup = (name: string) => Promise<{ name: string; port: number; priority: number; weight: number }[]>;

const lookupSrv: SrvLookup = (name) => dns.resolveSrv(name);

async function srv(name: string, lookup: SrvLookup): Promise<{ name: string; port: number; priority: number; weight: number }[]> {
  try {
    const records = await lookup(name);
    // RFC 2782: lower priority first; within one, heavier first (a stable order is enough for one peer).
    return records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  } catch {
    return [];
  }
}

export async function resolveS2s(domain: string, routes: Readonly<Record<string, string>>, lookup: SrvLookup = lookupSrv): Promise<S2sTarget[]> {
  const route = routes[domain];
  if (route !== undefined) {
    const { host, port } = parseHostPort(route, `s2s.routes.${domain}`);
    return [{ host, port, directTls: false }];
  }
  const [direct, starttls] = await Promise.all([srv(`_xmpps-server._tcp.${domain}`, lookup), srv(`_xmpp-server._tcp.${domain}`, lookup)]);
  // RFC 2782 §"Usage rules": a single record with target "." means the service is decidedly not available.
  if (starttls.length === 1 && starttls[0]?.name === "." && direct.length === 0) return [];
  const targets: S2sTarget[] = [
    ...direct.filter((r) => r.name !== ".").map((r) => ({ host: r.name, port: r.port, directTls: true })),
    ...starttls.filter((r) => r.name !== ".").map((r) => ({ host: r.name, port: r.port, directTls: false })),
  ];
  if (targets.length > 0) return targets;
  return [{ host: domain, port: 5269, directTls: false }];
}
