// /metrics (OpenMetrics text) and /health over HTTP: on the WebSocket
// listener by default, answering loopback clients only (a Prometheus or a
// reverse proxy on the same host), or on a listener of their own
// (metrics.bind) answering whoever can reach it. With metrics.token set,
// /metrics asks for `Authorization: Bearer TOKEN`; /health never does (it
// says nothing but whether the server works).
import http from "node:http";
import { timingSafeEqual, createHash } from "node:crypto";
import type { HttpRoute } from "../net/websocket-listener.js";
import type { MetricsConfig } from "../config.js";
import { parseHostPort } from "../config.js";
import { listenOn, portOf } from "../net/c2s-listener.js";

export interface MetricsEndpoints {
  exposition(): Promise<{ contentType: string; body: string }>;
  /** Undefined when healthy, else what is wrong. */
  unhealthy(): string | undefined;
}

export function isLoopbackAddress(address: string | undefined): boolean {
  const a = address ?? "";
  return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
}

/** Constant-time comparison of the presented token with the configured one (of digests, so lengths do not leak). */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!m) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest((m[1] as string).trim()), digest(token));
}

function answer(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(text);
}

/**
 * The two routes. `loopbackOnly`: refuse (403) a client that is not on this
 * host, which is what the shared WebSocket listener needs (it faces clients).
 */
export function metricsRoute(endpoints: MetricsEndpoints, config: MetricsConfig, loopbackOnly: boolean, onError: (err: Error) => void): HttpRoute {
  return (req, res, pathname) => {
    if (pathname !== "/metrics" && pathname !== "/health") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      answer(res, 405, "Only GET and HEAD are allowed here\n", { allow: "GET, HEAD" });
      return true;
    }
    if (loopbackOnly && !isLoopbackAddress(req.socket.remoteAddress)) {
      answer(res, 403, `${pathname} answers clients on this host only; set metrics.bind for a listener of its own\n`);
      return true;
    }
    if (pathname === "/health") {
      const problem = endpoints.unhealthy();
      answer(res, problem === undefined ? 200 : 503, problem === undefined ? "ok\n" : `${problem}\n`);
      return true;
    }
    if (config.token !== undefined && !tokenMatches(req.headers.authorization, config.token)) {
      answer(res, 401, "/metrics needs Authorization: Bearer <metrics.token>\n", { "www-authenticate": 'Bearer realm="parley-metrics"' });
      return true;
    }
    endpoints.exposition().then(({ contentType, body }) => {
      res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    }, (err: Error) => {
      onError(err);
      answer(res, 500, `collecting the metrics failed: ${err.message}\n`);
    });
    return true;
  };
}

/** A listener of their own for /metrics and /health (metrics.bind = "host:port"). */
export class MetricsListener {
  private readonly server: http.Server;

  constructor(route: HttpRoute) {
    this.server = http.createServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, (req, res) => {
      const pathname = (req.url ?? "/").split("?")[0] ?? "/";
      if (!route(req, res, pathname)) answer(res, 404, "Not found: /metrics and /health are here\n");
    });
  }

  async listen(bind: string): Promise<void> {
    const { host, port } = parseHostPort(bind, "metrics.bind");
    await listenOn(this.server, host, port, "metrics");
  }

  get port(): number {
    return portOf(this.server);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
