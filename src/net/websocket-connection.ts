// XMPP over WebSocket (RFC 7395): each WebSocket message is one complete XML
// element. The framing elements <open/> and <close/> stand in for the stream
// header and </stream:stream>; everything else is the same session actor.
import type { WebSocket } from "ws";
import { ReadPause, ReadSwitch } from "./rate-limiter.js";
import { StanzaPacer } from "./stanza-pacer.js";
import { XmlStreamParser, type StreamListener } from "../xml/stream-parser.js";
import { el, type XmlElement } from "../xml/element.js";
import { serialize } from "../xml/serialize.js";
import type { StreamPort } from "../actors/stream-port.js";
import { NS } from "../xmpp/namespaces.js";
import { streamErrorElement, type StreamErrorCondition } from "../xmpp/errors.js";
import { NOT_READING_GRACE_MS, OrderedOutput, type ConnectionLimits, type OutputGate } from "./connection.js";
import { UnsentOutput, NOT_READING } from "./unsent-output.js";
import type { PortObserver } from "./port-observer.js";

export const FRAMING_NS = "urn:ietf:params:xml:ns:xmpp-framing";

/** What the session actor is told, in the same terms as a TCP stream. */
export interface FramedStreamEvents {
  streamStart(attrs: Record<string, string>): void;
  stanza(stanza: XmlElement): void;
  streamEnd(): void;
  error(condition: StreamErrorCondition, text: string): void;
  /** More than maxUnsentOutputBytes unread: the stream error is on its way, the WebSocket closing. */
  notReading(unsent: number): void;
  closed(): void;
}

// Messages are parsed inside one long-lived synthetic stream, so the parser's
// limits and restricted-XML rules apply to each of them unchanged.
const WRAPPER = `<stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'>`;

/** RFC 7395 §3.3.3: every message is a stand-alone document, so the stream prefix is declared where used. */
function standalone(stanza: XmlElement): string {
  const xml = serialize(stanza, undefined);
  return stanza.ns === NS.stream ? xml.replace(/^<stream:(\w+)/, `<stream:$1 xmlns:stream='${NS.stream}'`) : xml;
}

export class WebSocketConnection implements StreamPort {
  private readonly parser: XmlStreamParser;
  private closing = false;
  /** Over the unsent-output cap: held output is dropped, not sent. */
  private abandoned = false;
  private readonly output: UnsentOutput;
  private readonly ordered: OrderedOutput;
  private readonly pacer: StanzaPacer;
  private readonly reads = new ReadSwitch(() => this.ws.pause(), () => {
    if (this.ws.readyState === this.ws.OPEN) this.ws.resume();
  });
  private readonly readPause = new ReadPause(() => this.reads.hold("throttle"), () => this.reads.release("throttle"));
  lastActivity = Date.now();
  /** Told of every element and stream error sent (connection log, metrics); set by the listener. */
  observer: PortObserver | undefined;
  readonly secure: boolean;
  readonly canStartTls = false;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    secure: boolean,
    limits: ConnectionLimits,
    events: FramedStreamEvents,
    private readonly gate: OutputGate,
  ) {
    this.secure = secure;
    // bufferedAmount: what ws has queued and what its socket has not written yet.
    this.output = new UnsentOutput(limits.maxUnsentOutputBytes, () => ws.bufferedAmount, (unsent) => {
      this.notReading();
      events.notReading(unsent);
    });
    const listener: StreamListener = {
      streamStart: () => {},
      stanza: (stanza) => {
        if (stanza.ns === FRAMING_NS && stanza.name === "open") events.streamStart(stanza.attrs);
        else if (stanza.ns === FRAMING_NS && stanza.name === "close") events.streamEnd();
        else events.stanza(stanza);
      },
      streamEnd: () => events.streamEnd(),
      error: (err) => events.error(err.condition, err.message),
    };
    // One read of the socket may carry many frames: at most limits.stanzasPerTurn of them per turn.
    this.pacer = new StanzaPacer(listener, limits.stanzasPerTurn, {
      hold: () => this.reads.hold("backlog"),
      release: () => this.reads.release("backlog"),
    }, limits.turnBudgetMs);
    this.ordered = new OrderedOutput(gate);
    this.parser = new XmlStreamParser(this.pacer, limits);
    this.parser.write(WRAPPER);
    ws.on("message", (data, isBinary) => {
      this.lastActivity = Date.now();
      // RFC 7395 §3.2: XMPP messages are text frames.
      if (isBinary) {
        events.error("bad-format", "XMPP over WebSocket uses text messages");
        return;
      }
      this.parser.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
    });
    // After whatever the client sent before closing has reached the session.
    ws.on("close", () => this.pacer.then(() => events.closed()));
    ws.on("error", () => this.pacer.then(() => events.closed()));
  }

  get isLoopback(): boolean {
    const a = this.remoteAddress;
    return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
  }

  private send(text: string): void {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return;
    const bytes = Buffer.byteLength(text);
    if (!this.output.hold(bytes)) return;
    const release = () => {
      this.output.released(bytes);
      if (!this.abandoned && this.ws.readyState === this.ws.OPEN) this.ws.send(text);
    };
    // Like TCP output: free output at once, the rest once its turn's events are durable, in order.
    this.ordered.release(release);
  }

  /** Bytes sent on this WebSocket that the kernel has not taken yet (held for the gate, or buffered). */
  get unsentBytes(): number {
    return this.output.unsent;
  }

  /**
   * Over the unsent-output cap (unsent-output.ts): RFC 6120 §4.9.3.18
   * policy-violation and <close/> (RFC 7395 §3.6), behind what is buffered,
   * then the closing handshake; terminated after a short grace.
   */
  private notReading(): void {
    this.closing = true;
    this.abandoned = true;
    this.pacer.stop();
    const ws = this.ws;
    if (ws.readyState !== ws.OPEN) return;
    this.observer?.streamErrorSent("policy-violation");
    ws.send(standalone(streamErrorElement("policy-violation", NOT_READING)));
    ws.send(serialize(el("close", FRAMING_NS), undefined));
    ws.close(1008, "not reading");
    const timer = setTimeout(() => ws.terminate(), NOT_READING_GRACE_MS);
    timer.unref();
    ws.once("close", () => clearTimeout(timer));
  }

  openStream(from: string, id: string): void {
    this.send(serialize(el("open", FRAMING_NS, { from, id, version: "1.0", "xml:lang": "en" }), undefined));
  }

  sendStanza(stanza: XmlElement): void {
    this.observer?.stanzaOut(stanza);
    this.send(standalone(stanza));
  }

  sendStreamError(condition: StreamErrorCondition, text?: string): void {
    this.observer?.streamErrorSent(condition);
    this.send(standalone(streamErrorElement(condition, text)));
  }

  sendStreamClose(): void {
    this.send(serialize(el("close", FRAMING_NS), undefined));
  }

  /** Stop reading WebSocket frames for a while (the stanza-rate throttle); TCP backpressure does the rest. */
  pauseReading(ms: number): void {
    if (!this.closing) this.readPause.for(ms);
  }

  /** Each message is a document of its own: nothing to reset after SASL. */
  resetParser(): void {}

  /** No TLS layer of ours under ws://, so nothing to bind to. */
  channelBindings(): Record<string, Buffer> {
    return {};
  }

  startTls(): void {
    throw new Error("STARTTLS does not exist over WebSocket (RFC 7395 §3.6): use wss://");
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.pacer.stop();
    this.gate.hold(() => this.ws.close(1000));
  }

  destroy(): void {
    this.ws.terminate();
  }

  closed(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once("close", () => resolve()));
  }
}
