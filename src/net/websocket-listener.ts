// XMPP over WebSocket (RFC 7395) on an HTTP port: the `xmpp` subprotocol at
// /xmpp-websocket, one session actor per WebSocket, as for TCP. Every TCP
// connection to the port counts against the per-address cap from accept on.
// Timeouts: a connection that sends no request (or upgrade) within
// handshakeTimeoutSeconds is closed, and so is one whose request headers take
// longer; a request's body has no whole-request deadline (a large upload
// takes what it takes) but an idle one: no bytes for handshakeTimeoutSeconds
// and the connection is closed. A route that holds a request open on purpose
// (a BOSH long poll) sets its own with req.setTimeout. An idle keep-alive
// connection goes after Node's keepAliveTimeout.
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { WebSocketServer } from "ws";
import type { AnyActorRef } from "xstate";
import { WebSocketConnection } from "./websocket-connection.js";
import { NS } from "../xmpp/namespaces.js";
import type { SessionEvent } from "../actors/session-machine.js";
import { listenOn, listenAlso, closeAll, observe, portOf, newSessionId, sessionStanzaGate, notReading, refuse, type SessionStarter } from "./c2s-listener.js";
import type { SessionRegistry } from "./session-registry.js";

export const WEBSOCKET_PATH = "/xmpp-websocket";

/** A handler of plain HTTP requests on the WebSocket port; true when it answered. */
export type HttpRoute = (req: http.IncomingMessage, res: http.ServerResponse, pathname: string) => boolean;

export class WebSocketListener {
  private readonly http: http.Server | https.Server;
  /** HTTPS (and wss://) when a certificate is configured (tls.cert), plain HTTP otherwise. */
  readonly secure: boolean;
  private readonly wss: WebSocketServer;
  /** TCP connections that sent a request or became WebSockets: the first-request timer leaves them alone. */
  private readonly engaged = new WeakSet<Socket>();
  private readonly idleMs: number;

  constructor(private readonly env: SessionStarter, private readonly registry: SessionRegistry, tls?: { key: string | Buffer; cert: string | Buffer }) {
    const handshakeMs = env.config.limits.handshakeTimeoutSeconds * 1000;
    this.idleMs = handshakeMs;
    // Node's bound on a request's headers, the same as the upgrade's; no
    // bound on the whole request (an upload's body), which has an idle timeout instead.
    const bounds = { headersTimeout: handshakeMs, requestTimeout: 0 };
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.request(req, res);
    this.secure = tls !== undefined;
    this.http = tls ? https.createServer({ ...bounds, ...tls, handshakeTimeout: handshakeMs }, handler) : http.createServer(bounds, handler);
    const firstRequestTimer = (socket: Socket) => {
      const timer = setTimeout(() => {
        if (this.engaged.has(socket)) return;
        env.log.debug("closing an HTTP connection that sent no request in time", { address: socket.remoteAddress });
        socket.destroy();
      }, handshakeMs);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    };
    this.http.on("connection", (socket: Socket) => {
      if (!registry.admitSocket(socket)) {
        env.log.warn("refusing an HTTP connection: too many connections from this address", { address: socket.remoteAddress });
        refuse(socket, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\nToo many connections from your address\n");
        return;
      }
      // Over TLS the handshake has its own bound (handshakeTimeout); the wait for a request starts after it.
      if (!tls) firstRequestTimer(socket);
    });
    if (tls) this.http.on("secureConnection", (socket: Socket) => firstRequestTimer(socket));
    this.wss = new WebSocketServer({
      server: this.http,
      path: WEBSOCKET_PATH,
      // RFC 7395 §3.1: the subprotocol is `xmpp`; a client that does not ask for it is refused.
      handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false),
      maxPayload: env.config.limits.maxStanzaBytes + 1024,
    });
    this.wss.on("connection", (ws, req) => {
      this.engaged.add(req.socket);
      req.socket.setTimeout(0);
      if (ws.protocol !== "xmpp") {
        ws.close(1002, "the xmpp subprotocol is required");
        return;
      }
      this.accept(ws, req.socket.remoteAddress ?? "unknown");
    });
  }

  /**
   * A plain HTTP request (not an upgrade). At the WebSocket path: 426 Upgrade
   * Required (RFC 9110 §15.5.22) naming the protocol, which is what a browser
   * or curl pointed at the URL should be told; elsewhere the routes other
   * parts add (metrics, health), else 404.
   */
  private request(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.engaged.add(req.socket);
    // Idle, not whole-request: closed after this long without a byte either way.
    req.setTimeout(this.idleMs);
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    if (pathname === WEBSOCKET_PATH) {
      res.writeHead(426, { "content-type": "text/plain; charset=utf-8", upgrade: "websocket", connection: "Upgrade" });
      res.end(`${WEBSOCKET_PATH} is XMPP over WebSocket (RFC 7395): connect with a WebSocket client and the 'xmpp' subprotocol, e.g. ws://${req.headers.host ?? "this-host"}${WEBSOCKET_PATH}\n`);
      return;
    }
    for (const route of this.routes) if (route(req, res, pathname)) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end(`Not found. XMPP over WebSocket lives at ${WEBSOCKET_PATH}\n`);
  }

  private readonly routes: HttpRoute[] = [];

  /** A new certificate (SIGHUP reload) for connections from now on; nothing to do on plain HTTP. */
  setCredentials(tls: { key: string | Buffer; cert: string | Buffer }): void {
    if (this.http instanceof https.Server) this.http.setSecureContext(tls);
  }

  /** Another handler of plain requests on this port (metrics, health): it returns true when it answered. */
  addRoute(route: HttpRoute): void {
    this.routes.push(route);
  }

  get port(): number {
    return portOf(this.http);
  }

  /** On `host`, and on each of `also` at the same port. */
  async listen(host: string, port: number, also: readonly string[] = []): Promise<void> {
    await listenOn(this.http, host, port, "WebSocket clients");
    this.extra.push(...await listenAlso(this.http, also, "WebSocket clients", (m, f) => this.env.log.warn(m, f)));
  }

  private readonly extra: import("node:net").Server[] = [];

  private accept(ws: import("ws").WebSocket, address: string): void {
    const sessionId = newSessionId();
    let actor: AnyActorRef | undefined;
    const send = (event: SessionEvent) => actor?.send(event);
    const limits = this.env.config.limits;
    const observer = observe(this.env, sessionId, "websocket", address);
    const gate = sessionStanzaGate(this.env, { id: sessionId, address, send, pauseReading: (ms) => conn.pauseReading(ms) });
    const conn: WebSocketConnection = new WebSocketConnection(ws, address, this.secure, {
      maxStanzaBytes: limits.maxStanzaBytes,
      maxDepth: limits.maxDepth,
      stanzasPerTurn: limits.stanzasPerTurn,
      turnBudgetMs: limits.turnBudgetMs,
      maxUnsentOutputBytes: limits.maxUnsentOutputBytes,
      handshakeTimeoutMs: limits.handshakeTimeoutSeconds * 1000,
    }, {
      streamStart: (attrs) => send({ type: "xml.streamStart", attrs, ns: NS.stream, localName: "stream", defaultNs: NS.client }),
      stanza: (stanza) => {
        observer.stanzaIn(stanza);
        gate(stanza);
      },
      streamEnd: () => {
        observer.peerClosedStream();
        send({ type: "xml.streamEnd" });
      },
      error: (condition, text) => send({ type: "xml.error", condition, text }),
      notReading: (unsent) => notReading(this.env, { id: sessionId, address, send }, unsent),
      closed: () => {
        observer.closed();
        send({ type: "socket.closed" });
      },
    }, this.env.commitGate);
    conn.observer = observer;
    actor = this.env.startSession(sessionId, conn);
    this.registry.add(sessionId, actor, conn, address);
  }

  async close(): Promise<void> {
    this.wss.close();
    await Promise.all([new Promise<void>((resolve) => this.http.close(() => resolve())), closeAll(this.extra)]);
  }
}
