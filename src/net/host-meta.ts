// XEP-0156 §3: /.well-known/host-meta (XRD, RFC 6415) and host-meta.json
// tell a web client where the XMPP over WebSocket and BOSH endpoints of this
// server are, so that it needs nothing but the domain. Served with CORS
// (§3.2: a web client on another origin reads it).
import type { IncomingMessage } from "node:http";
import type { HttpRoute } from "./websocket-listener.js";

export const HOST_META_PATH = "/.well-known/host-meta";
export const REL_WEBSOCKET = "urn:xmpp:alt-connections:websocket";
export const REL_BOSH = "urn:xmpp:alt-connections:xbosh";

export interface HostMetaEndpoints {
  /** Paths on this listener: the WebSocket's, and BOSH's when it is on. */
  readonly websocketPath: string;
  readonly boshPath?: string;
  /** Base URL clients reach this listener at (a reverse proxy's https://…); else what the request's Host says, over http. */
  readonly publicUrl?: string;
  /** Whether the listener itself speaks TLS (then https/wss). */
  readonly tls: boolean;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** The listener's base URL for this request: configured, or from the Host header (a syntactically sane one). */
function baseUrl(req: IncomingMessage, e: HostMetaEndpoints): string | undefined {
  if (e.publicUrl !== undefined) return e.publicUrl;
  const host = req.headers.host;
  if (host === undefined || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return undefined;
  return `${e.tls ? "https" : "http"}://${host}`;
}

export function hostMetaLinks(base: string, e: HostMetaEndpoints): { rel: string; href: string }[] {
  const ws = base.replace(/^http/i, "ws");
  const links = [{ rel: REL_WEBSOCKET, href: `${ws}${e.websocketPath}` }];
  if (e.boshPath !== undefined) links.push({ rel: REL_BOSH, href: `${base}${e.boshPath}` });
  return links;
}

export function hostMetaRoute(endpoints: HostMetaEndpoints): HttpRoute {
  return (req, res, pathname) => {
    const json = pathname === `${HOST_META_PATH}.json`;
    if (pathname !== HOST_META_PATH && !json) return false;
    const cors = { "access-control-allow-origin": "*", "access-control-allow-methods": "GET, HEAD, OPTIONS" };
    if (req.method === "OPTIONS") {
      res.writeHead(204, cors);
      res.end();
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...cors, allow: "GET, HEAD, OPTIONS", "content-type": "text/plain; charset=utf-8" });
      res.end("Only GET and HEAD are allowed here\n");
      return true;
    }
    const base = baseUrl(req, endpoints);
    if (base === undefined) {
      res.writeHead(400, { ...cors, "content-type": "text/plain; charset=utf-8" });
      res.end("A Host header is needed to say where this server is\n");
      return true;
    }
    const links = hostMetaLinks(base, endpoints);
    const body = json
      ? `${JSON.stringify({ links }, null, 2)}\n`
      : `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n${
        links.map((l) => `  <Link rel='${escapeXml(l.rel)}' href='${escapeXml(l.href)}'/>\n`).join("")}</XRD>\n`;
    res.writeHead(200, {
      ...cors,
      "content-type": json ? "application/json" : "application/xrd+xml; charset=utf-8",
      "content-length": String(Buffer.byteLength(body)),
      "cache-control": "public, max-age=3600",
      // The answer depends on the Host a client used (unless a public URL is configured).
      ...(endpoints.publicUrl === undefined ? { vary: "Host" } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}
