// XMPP over WebSocket (RFC 7395) on an HTTP port: the `xmpp` subprotocol at
// /xmpp-websocket, one session actor per WebSocket, as for TCP. Every TCP
// connection to the port counts against the per-address cap from accept on,
// and one that has not become a WebSocket within handshakeTimeoutSeconds
// (a half-sent request, an idle keep-alive) is closed.
import http from "node:http";
import type { Socket } from "node:net";
import { WebSocketServer } from "ws";
import type { AnyActorRef } from "xstate";
import { WebSocketConnection } from "./websocket-connection.js";
import { NS } from "../xmpp/namespaces.js";
import type { SessionEvent } from "../actors/session-machine.js";
import { listenOn, portOf, newSessionId, sessionStanzaGate, notReading, refuse, type SessionStarter } from "./c2s-listener.js";
import type { SessionRegistry } from "./session-registry.js";

export const WEBSOCKET_PATH = "/xmpp-websocket";

export class WebSocketListener {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  /** TCP connections that became WebSockets: the upgrade timer leaves them to the session registry's timeouts. */
  private readonly upgraded = new WeakSet<Socket>();

  constructor(private readonly env: SessionStarter, private readonly registry: SessionRegistry) {
    const handshakeMs = env.config.limits.handshakeTimeoutSeconds * 1000;
    this.http = http.createServer({
      // Node's own bounds on a request, the same as the upgrade's.
      headersTimeout: handshakeMs,
      requestTimeout: handshakeMs,
    }, (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`XMPP over WebSocket lives at ${WEBSOCKET_PATH}\n`);
    });
    this.http.on("connection", (socket: Socket) => {
      if (!registry.admitSocket(socket)) {
        env.log.warn("refusing an HTTP connection: too many connections from this address", { address: socket.remoteAddress });
        refuse(socket, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\nToo many connections from your address\n");
        return;
      }
      const timer = setTimeout(() => {
        if (this.upgraded.has(socket)) return;
        env.log.debug("closing an HTTP connection that did not become a WebSocket in time", { address: socket.remoteAddress });
        socket.destroy();
      }, handshakeMs);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
    this.wss = new WebSocketServer({
      server: this.http,
      path: WEBSOCKET_PATH,
      // RFC 7395 §3.1: the subprotocol is `xmpp`; a client that does not ask for it is refused.
      handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false),
      maxPayload: env.config.limits.maxStanzaBytes + 1024,
    });
    this.wss.on("connection", (ws, req) => {
      this.upgraded.add(req.socket);
      if (ws.protocol !== "xmpp") {
        ws.close(1002, "the xmpp subprotocol is required");
        return;
      }
      this.accept(ws, req.socket.remoteAddress ?? "unknown");
    });
  }

  get port(): number {
    return portOf(this.http);
  }

  listen(host: string, port: number): Promise<void> {
    return listenOn(this.http, host, port, "WebSocket clients");
  }

  private accept(ws: import("ws").WebSocket, address: string): void {
    const sessionId = newSessionId();
    let actor: AnyActorRef | undefined;
    const send = (event: SessionEvent) => actor?.send(event);
    const limits = this.env.config.limits;
    const conn: WebSocketConnection = new WebSocketConnection(ws, address, false, {
      maxStanzaBytes: limits.maxStanzaBytes,
      maxDepth: limits.maxDepth,
      stanzasPerTurn: limits.stanzasPerTurn,
      maxUnsentOutputBytes: limits.maxUnsentOutputBytes,
      handshakeTimeoutMs: limits.handshakeTimeoutSeconds * 1000,
    }, {
      streamStart: (attrs) => send({ type: "xml.streamStart", attrs, ns: NS.stream, localName: "stream", defaultNs: NS.client }),
      stanza: sessionStanzaGate(this.env, { id: sessionId, address, send, pauseReading: (ms) => conn.pauseReading(ms) }),
      streamEnd: () => send({ type: "xml.streamEnd" }),
      error: (condition, text) => send({ type: "xml.error", condition, text }),
      notReading: (unsent) => notReading(this.env, { id: sessionId, address, send }, unsent),
      closed: () => send({ type: "socket.closed" }),
    }, this.env.commitGate);
    actor = this.env.startSession(sessionId, conn);
    this.registry.add(sessionId, actor, conn, address);
    this.env.log.debug("WebSocket accepted", { session: sessionId, address });
  }

  async close(): Promise<void> {
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
