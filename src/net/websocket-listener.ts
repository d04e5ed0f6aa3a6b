// XMPP over WebSocket (RFC 7395) on an HTTP port: the `xmpp` subprotocol at
// /xmpp-websocket, one session actor per WebSocket, as for TCP.
import http from "node:http";
import { WebSocketServer } from "ws";
import type { AnyActorRef } from "xstate";
import { WebSocketConnection } from "./websocket-connection.js";
import { NS } from "../xmpp/namespaces.js";
import type { SessionEvent } from "../actors/session-machine.js";
import { listenOn, portOf, newSessionId, sessionStanzaGate, notReading, type SessionStarter } from "./c2s-listener.js";
import type { SessionRegistry } from "./session-registry.js";

export const WEBSOCKET_PATH = "/xmpp-websocket";

export class WebSocketListener {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;

  constructor(private readonly env: SessionStarter, private readonly registry: SessionRegistry) {
    this.http = http.createServer((_req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`XMPP over WebSocket lives at ${WEBSOCKET_PATH}\n`);
    });
    this.wss = new WebSocketServer({
      server: this.http,
      path: WEBSOCKET_PATH,
      // RFC 7395 §3.1: the subprotocol is `xmpp`; a client that does not ask for it is refused.
      handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false),
      maxPayload: env.config.limits.maxStanzaBytes + 1024,
    });
    this.wss.on("connection", (ws, req) => {
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
    if (!this.registry.admits(address)) {
      this.env.log.warn("refusing a WebSocket: too many connections from this address", { address });
      ws.close(1008, "Too many connections from your address");
      return;
    }
    const sessionId = newSessionId();
    let actor: AnyActorRef | undefined;
    const send = (event: SessionEvent) => actor?.send(event);
    const limits = this.env.config.limits;
    const conn: WebSocketConnection = new WebSocketConnection(ws, address, false, {
      maxStanzaBytes: limits.maxStanzaBytes,
      maxDepth: limits.maxDepth,
      stanzasPerTurn: limits.stanzasPerTurn,
      maxUnsentOutputBytes: limits.maxUnsentOutputBytes,
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
