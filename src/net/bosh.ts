// BOSH (XEP-0124) carrying XMPP (XEP-0206) at /http-bind on the HTTP
// listener: a third StreamPort beside TCP and WebSocket, feeding the same
// session machine. A session is a series of HTTP POSTs, each a <body/> in
// http://jabber.org/protocol/httpbind with an increasing `rid`; the server
// holds up to `hold` of them and answers the oldest when it has something to
// send, or after `wait` seconds empty (§7, §8). Limits (`[bosh]`): wait,
// hold, inactivity and polling are the client's asks bounded by ours, and so
// is a pause (§10, `maxpause`); a request's body size; sessions per address;
// the output a session has not fetched (limits.max_unsent_output_bytes, as
// for the other transports); the responses kept for a resent rid (§14.3: at
// most `requests`, fewer once the client acknowledges them, §9.2).
// Output is released to responses by the commit gate, as on every transport.
import type http from "node:http";
import { randomBytes } from "node:crypto";
import type { AnyActorRef } from "xstate";
import { XmlStreamParser } from "../xml/stream-parser.js";
import type { XmlElement } from "../xml/element.js";
import { serialize } from "../xml/serialize.js";
import type { StreamPort } from "../actors/stream-port.js";
import type { SessionEvent } from "../actors/session-machine.js";
import { NS } from "../xmpp/namespaces.js";
import { streamErrorElement, type StreamErrorCondition } from "../xmpp/errors.js";
import type { BoshConfig } from "../config.js";
import type { OutputGate } from "./connection.js";
import { UnsentOutput } from "./unsent-output.js";
import type { PortObserver } from "./port-observer.js";
import type { HttpRoute } from "./websocket-listener.js";
import { observe, newSessionId, sessionStanzaGate, notReading, type SessionStarter } from "./c2s-listener.js";
import type { SessionRegistry } from "./session-registry.js";

export const BOSH_PATH = "/http-bind";
export const NS_HTTPBIND = "http://jabber.org/protocol/httpbind";
export const NS_XBOSH = "urn:xmpp:xbosh";
/** XEP-0124 §7.1: the protocol version this connection manager speaks. */
const BOSH_VERSION = "1.11";

/** XEP-0124 §17: terminal binding conditions used here. */
type TerminalCondition = "bad-request" | "host-unknown" | "item-not-found" | "policy-violation" | "remote-stream-error" | "system-shutdown";

const CORS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers": "Content-Type",
  "access-control-max-age": "86400",
};

const WRAPPER = `<stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'>`;

function reply(res: http.ServerResponse, body: string, status = 200): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...CORS, "content-type": "text/xml; charset=utf-8", "cache-control": "no-store", "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}

function terminateBody(condition?: TerminalCondition, content = ""): string {
  const cond = condition === undefined ? "" : ` condition='${condition}'`;
  return `<body xmlns='${NS_HTTPBIND}' xmlns:stream='${NS.stream}' type='terminate'${cond}>${content}</body>`;
}

/** One <body/> of a request, parsed with the stream parser's limits and restricted-XML rules. */
function parseBody(text: string, maxBytes: number, maxDepth: number): XmlElement | string {
  let body: XmlElement | undefined;
  let problem: string | undefined;
  const parser = new XmlStreamParser({
    streamStart: () => {},
    stanza: (element) => { body ??= element; },
    streamEnd: () => {},
    error: (err) => { problem ??= err.message; },
  }, { maxStanzaBytes: maxBytes, maxDepth: maxDepth + 1 });
  parser.write(WRAPPER);
  parser.write(text);
  if (problem !== undefined) return problem;
  if (!body || body.name !== "body" || body.ns !== NS_HTTPBIND) return `the request must be one <body xmlns='${NS_HTTPBIND}'/>`;
  return body;
}

/** An attribute in the urn:xmpp:xbosh namespace (XEP-0206 §5), whatever prefix the client gave it. */
function xboshAttr(body: XmlElement, name: string): string | undefined {
  for (const [k, v] of Object.entries(body.attrs)) {
    if (k === name || k.endsWith(`:${name}`)) return v;
  }
  return undefined;
}

/** A response as sent, and when (for §9.2's `time`). */
interface Sent {
  readonly text: string;
  readonly sentAt: number;
}

interface Held {
  readonly rid: number;
  res: http.ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

interface Waiting {
  readonly rid: number;
  /** The seconds of a pause request (§10). */
  readonly pause: number | undefined;
  readonly body: XmlElement;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
}

export interface BoshSessionEvents {
  streamStart(attrs: Record<string, string>): void;
  stanza(stanza: XmlElement): void;
  streamEnd(): void;
  notReading(unsent: number): void;
  closed(): void;
}

/** What a session creation request asked and what it got (§7.1, §7.2). */
interface Negotiated {
  readonly wait: number;
  readonly hold: number;
  readonly requests: number;
  readonly inactivity: number;
  readonly polling: number;
  /** §7.2 `maxpause`; 0: not announced, so a client may not pause (§10). */
  readonly maxPause: number;
  /** §7.1: the creation request said ack='1', so acknowledgements are used both ways (§9). */
  readonly acks: boolean;
  readonly to: string;
  readonly lang: string | undefined;
}

export class BoshSession implements StreamPort {
  readonly secure = false;
  readonly canStartTls = false;
  lastActivity = Date.now();
  observer: PortObserver | undefined;
  /** The next rid to process; those after it within the window wait for it (§14.3). */
  private nextRid: number;
  private readonly waiting = new Map<number, Waiting>();
  private readonly held: Held[] = [];
  /** Responses already sent, by rid, to answer a repeated request the same way (§14.3). */
  private readonly answered = new Map<number, Sent>();
  /** The rid of the last request answered, and the last pause request's answer (not buffered, §14.3). */
  private lastAnsweredRid = 0;
  private pauseAnswer: (Sent & { readonly rid: number; readonly seconds: number }) | undefined;
  /** §10: the inactivity allowed until the next request, when the client paused. */
  private pausedFor: number | undefined;
  /** §9.2: a response the client has not acknowledged, to report on the next response. */
  private report: { readonly rid: number; readonly sentAt: number } | undefined;
  /** The highest rid reported so far: each is reported once, so a client ignoring reports cannot make every request return at once. */
  private reportedRid = 0;
  private readonly queue: string[] = [];
  private queueBytes = 0;
  private readonly output: UnsentOutput;
  private creationAnswered = false;
  private authid = "";
  private from = "";
  /** The stream is ending: the next response says terminate, with this condition and payload. */
  private ending: { condition?: TerminalCondition; content: string } | undefined;
  private finished = false;
  /** The client sent type='terminate'. */
  private clientTerminated = false;
  private inactivityTimer: NodeJS.Timeout | undefined;
  private lastEmptyAt = 0;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    readonly sid: string,
    readonly remoteAddress: string,
    firstRid: number,
    private readonly negotiated: Negotiated,
    maxUnsentOutputBytes: number,
    private readonly events: BoshSessionEvents,
    private readonly gate: OutputGate,
    private readonly forget: (sid: string) => void,
  ) {
    this.nextRid = firstRid;
    this.output = new UnsentOutput(maxUnsentOutputBytes, () => this.queueBytes, (unsent) => {
      this.events.notReading(unsent);
      this.terminate("policy-violation");
    });
    this.closedPromise = new Promise((resolve) => { this.resolveClosed = resolve; });
  }

  get isLoopback(): boolean {
    const a = this.remoteAddress;
    return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
  }

  /** A request for this session (its sid matched). */
  request(body: XmlElement, rid: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.finished) return reply(res, terminateBody("item-not-found"));
    this.lastActivity = Date.now();
    this.stopInactivity();
    // §10: the next request ends a pause.
    this.pausedFor = undefined;
    if (rid < this.nextRid) {
      // §14.3: a request repeated after a broken connection gets the same answer.
      const before = this.answered.get(rid);
      if (before !== undefined) {
        reply(res, before.text);
        return this.startInactivityIfIdle();
      }
      // The pause request again (its answer was lost): the same empty answer, and the pause
      // holds if nothing came after it.
      if (this.pauseAnswer?.rid === rid) {
        if (rid === this.nextRid - 1) this.pausedFor = this.pauseAnswer.seconds;
        reply(res, this.pauseAnswer.text);
        return this.startInactivityIfIdle();
      }
      // §14.3: a held request sent again (its connection broke): the old one gets a
      // recoverable error (§17.3), the answer goes on the new one.
      const held = this.held.find((h) => h.rid === rid);
      if (held) {
        reply(held.res, `<body xmlns='${NS_HTTPBIND}' type='error'/>`);
        held.res = res;
        this.watch(held, req, res);
        return;
      }
      // §14.3: no longer buffered (acknowledged, or older than `requests` responses).
      return this.terminate("item-not-found", res);
    }
    const pause = this.pauseAsked(body);
    if (typeof pause === "string") return this.terminate(pause, res);
    // §11: a pause or terminate request may be one more than `requests`.
    const extra = pause !== undefined || body.attrs.type === "terminate" ? 1 : 0;
    // §14.2: a rid beyond the window.
    if (rid >= this.nextRid + this.negotiated.requests + extra) return this.terminate("item-not-found", res);
    // §11: no more requests at once than `requests`.
    if (this.held.length + this.waiting.size + 1 > this.negotiated.requests + extra) return this.terminate("policy-violation", res);
    if (this.negotiated.acks && !this.acknowledged(body, rid)) return this.terminate("bad-request", res);
    this.waiting.set(rid, { rid, pause, body, req, res });
    while (!this.finished) {
      const next = this.waiting.get(this.nextRid);
      if (!next) break;
      this.waiting.delete(this.nextRid);
      this.nextRid++;
      this.process(next);
    }
    this.flush();
    this.startInactivityIfIdle();
  }

  /**
   * §10: the seconds a request asks to pause for, or the terminal condition for a bad ask:
   * not a number is bad-request (§17.2); more than `maxpause`, or any pause when none was
   * announced ("the client MUST NOT send a 'pause' attribute"), breaks the session's rules,
   * which is policy-violation (§17.2; §10 itself says only what happens within the limit).
   */
  private pauseAsked(body: XmlElement): number | TerminalCondition | undefined {
    const text = body.attrs.pause;
    if (text === undefined) return undefined;
    if (!/^\d{1,5}$/.test(text)) return "bad-request";
    const seconds = Number(text);
    return seconds > this.negotiated.maxPause ? "policy-violation" : seconds;
  }

  /**
   * §9.2: the client's `ack` is the highest rid whose response it has, all earlier ones too;
   * no `ack` means it has every response so far. Those responses are forgotten (§14.3 keeps
   * only the unacknowledged). A lower `ack` than the last rid answered means a response may
   * be lost: the next response goes at once (§9.2 MAY) with `report`, ack + 1, and `time`, the
   * ms since that response went (§9.2 SHOULD), once per rid and only for a response still
   * buffered (the client can resend only those, §14.3). False for an `ack` that is not a
   * number below this request's rid (bad-request, §17.2).
   */
  private acknowledged(body: XmlElement, rid: number): boolean {
    const text = body.attrs.ack;
    if (text !== undefined && !/^\d{1,16}$/.test(text)) return false;
    const ack = text === undefined ? rid - 1 : Number(text);
    if (ack >= rid) return false;
    for (const acked of this.answered.keys()) if (acked <= ack) this.answered.delete(acked);
    const missing = ack + 1;
    if (ack < this.lastAnsweredRid && missing > this.reportedRid) {
      const sent = this.answered.get(missing) ?? (this.pauseAnswer?.rid === missing ? this.pauseAnswer : undefined);
      if (sent !== undefined) {
        this.report = { rid: missing, sentAt: sent.sentAt };
        this.reportedRid = missing;
      }
    }
    return true;
  }

  /** The creation request: the stream starts (XEP-0206 §5), and the request is held for its features. */
  start(body: XmlElement, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.nextRid++;
    this.hold(this.nextRid - 1, req, res);
    this.events.streamStart(this.streamAttrs());
    this.deliver(body);
    this.flush();
  }

  private streamAttrs(): Record<string, string> {
    const attrs: Record<string, string> = { to: this.negotiated.to, version: "1.0" };
    if (this.negotiated.lang !== undefined) attrs["xml:lang"] = this.negotiated.lang;
    return attrs;
  }

  private deliver(body: XmlElement): void {
    for (const child of body.getChildren()) this.events.stanza(child);
  }

  private process(w: Waiting): void {
    const { body, req, res, rid } = w;
    const empty = body.getChildren().length === 0;
    const terminate = body.attrs.type === "terminate";
    const pause = terminate || this.ending !== undefined ? undefined : w.pause;
    // §10: a request after a pause (one that came before it but waited for its rid) ends it.
    this.pausedFor = undefined;
    // §12: a polling session (hold 0) may not send empty requests more often than `polling` (§11: a pause may).
    if (empty && !terminate && pause === undefined && this.negotiated.hold === 0) {
      const now = Date.now();
      if (now - this.lastEmptyAt < this.negotiated.polling * 1000) return this.terminate("policy-violation", res);
      this.lastEmptyAt = now;
    }
    if (pause !== undefined) return this.pause(rid, pause, body, res);
    this.hold(rid, req, res);
    this.deliver(body);
    // XEP-0206 §5: after SASL success the client asks for a new stream.
    if (xboshAttr(body, "restart") === "true") this.events.streamStart(this.streamAttrs());
    // §13: the client ends the session (after the stanzas it carries).
    if (terminate) {
      this.clientTerminated = true;
      this.events.streamEnd();
    }
  }

  /**
   * §10: a pause request. Every held request is answered at once (the oldest carrying what is
   * queued), then the pause request itself, with no payloads (what the session sends meanwhile
   * waits for the next request). Until the next request the session may be idle `seconds`
   * instead of `inactivity`. Its answer is not buffered as the others are (§14.3).
   */
  private pause(rid: number, seconds: number, body: XmlElement, res: http.ServerResponse): void {
    this.deliver(body);
    this.pausedFor = seconds;
    while (this.held.length > 0) this.answer(this.held[0] as Held);
    // The stream ended meanwhile: the oldest answer said terminate; so does this one.
    if (this.ending !== undefined) return reply(res, terminateBody(this.ending.condition));
    const text = this.bodyText(rid, "", {});
    this.pauseAnswer = { rid, seconds, text, sentAt: Date.now() };
    this.lastAnsweredRid = rid;
    reply(res, text);
  }

  private hold(rid: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    // A held request is activity: no inactivity runs meanwhile (§10).
    this.stopInactivity();
    const held: Held = { rid, res, timer: undefined };
    // §7.1 `wait`: answered empty when nothing came for this long.
    held.timer = setTimeout(() => this.answer(held), this.negotiated.wait * 1000);
    held.timer.unref();
    this.watch(held, req, res);
    this.held.push(held);
  }

  private watch(held: Held, req: http.IncomingMessage, res: http.ServerResponse): void {
    // The listener's idle timeout would cut a long poll: this request is idle on purpose, `wait` bounds it.
    req.setTimeout((this.negotiated.wait + 10) * 1000);
    res.once("close", () => {
      if (!res.writableFinished && held.res === res) this.dropHeld(held);
    });
  }

  private dropHeld(held: Held): void {
    const i = this.held.indexOf(held);
    if (i < 0) return;
    this.held.splice(i, 1);
    if (held.timer) clearTimeout(held.timer);
    this.startInactivityIfIdle();
  }

  /** Sends what is queued on the oldest held request, while there is something to send or more held than `hold`. */
  private flush(): void {
    // §9.2: a report goes on the next response at once.
    while (this.held.length > 0 && (this.queue.length > 0 || this.ending !== undefined || this.report !== undefined || this.held.length > this.negotiated.hold)) {
      this.answer(this.held[0] as Held);
    }
    if (this.ending !== undefined && this.held.length === 0 && this.waiting.size === 0 && !this.creationPending()) this.finish();
  }

  private creationPending(): boolean {
    return !this.creationAnswered && this.ending === undefined;
  }

  private answer(held: Held): void {
    const i = this.held.indexOf(held);
    if (i < 0) return;
    this.held.splice(i, 1);
    if (held.timer) clearTimeout(held.timer);
    const content = this.queue.join("");
    this.queue.length = 0;
    this.queueBytes = 0;
    let text: string;
    if (this.ending !== undefined) {
      text = terminateBody(this.ending.condition, content + this.ending.content);
      this.ending = { ...this.ending, content: "" };
    } else if (this.clientTerminated) {
      // §13: the answer to the client's terminate says terminate, with whatever came before the close.
      text = terminateBody(undefined, content);
    } else {
      const attrs: Record<string, string> = {};
      if (!this.creationAnswered) {
        // §7.2 and XEP-0206 §5: the session creation response.
        const n = this.negotiated;
        Object.assign(attrs, {
          sid: this.sid, wait: String(n.wait), hold: String(n.hold), requests: String(n.requests),
          inactivity: String(n.inactivity), polling: String(n.polling), ver: BOSH_VERSION,
          from: this.from || n.to, authid: this.authid, secure: "false",
          "xmpp:version": "1.0", "xmlns:xmpp": NS_XBOSH, "xmpp:restartlogic": "true",
        });
        // §7.2: pauses are offered up to this (§10).
        if (n.maxPause > 0) attrs.maxpause = String(n.maxPause);
      }
      if (this.report !== undefined) {
        // §9.2: the first response the client has not acknowledged, and how long ago it went.
        attrs.report = String(this.report.rid);
        attrs.time = String(Date.now() - this.report.sentAt);
        this.report = undefined;
      }
      text = this.bodyText(held.rid, content, attrs);
    }
    this.creationAnswered = true;
    const sentAt = Date.now();
    this.answered.set(held.rid, { text, sentAt });
    this.lastAnsweredRid = held.rid;
    // §14.3: the buffer holds at most `requests` responses (with acks, only unacknowledged ones: §9.2).
    while (this.answered.size > this.negotiated.requests) this.answered.delete(Math.min(...this.answered.keys()));
    reply(held.res, text);
    this.startInactivityIfIdle();
  }

  /** A <body/> answering `rid`, with `ack` when acknowledgements are on (§9.1). */
  private bodyText(rid: number, content: string, extra: Record<string, string>): string {
    const attrs: Record<string, string> = { xmlns: NS_HTTPBIND, "xmlns:stream": NS.stream, ...extra };
    if (this.negotiated.acks) {
      // §7.2: the creation response carries the creation request's rid. §9.1: later ones the
      // highest rid received with every one below it (later ones may wait for a gap), unless
      // that is the rid being answered.
      const highest = this.nextRid - 1;
      if (!this.creationAnswered) attrs.ack = String(rid);
      else if (highest !== rid) attrs.ack = String(highest);
    }
    const attrText = Object.entries(attrs).map(([k, v]) => ` ${k}='${v.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;")}'`).join("");
    return `<body${attrText}>${content}</body>`;
  }

  private startInactivityIfIdle(): void {
    if (this.finished || this.held.length > 0 || this.waiting.size > 0 || this.inactivityTimer) return;
    // §7.2 `inactivity` (§10): no request for this long and the session is gone; after a pause, the pause's length.
    this.inactivityTimer = setTimeout(() => {
      this.inactivityTimer = undefined;
      this.finish();
    }, (this.pausedFor ?? this.negotiated.inactivity) * 1000);
    this.inactivityTimer.unref();
  }

  private stopInactivity(): void {
    if (this.inactivityTimer) clearTimeout(this.inactivityTimer);
    this.inactivityTimer = undefined;
  }

  /** Ends the session now with a terminal condition (§17), answering `res` and every held request. */
  terminate(condition: TerminalCondition, res?: http.ServerResponse): void {
    if (res) reply(res, terminateBody(condition));
    this.ending = { condition, content: "" };
    this.queue.length = 0;
    this.queueBytes = 0;
    for (const w of this.waiting.values()) reply(w.res, terminateBody(condition));
    this.waiting.clear();
    this.flush();
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopInactivity();
    for (const h of this.held.splice(0)) {
      if (h.timer) clearTimeout(h.timer);
      reply(h.res, terminateBody(this.ending?.condition));
    }
    for (const w of this.waiting.values()) reply(w.res, terminateBody(this.ending?.condition));
    this.waiting.clear();
    this.forget(this.sid);
    this.events.closed();
    this.resolveClosed();
  }

  private send(text: string): void {
    if (this.finished || this.ending !== undefined) return;
    const bytes = Buffer.byteLength(text);
    if (!this.output.hold(bytes)) return;
    // Held, like every transport's output, until the turn's events are durable.
    this.gate.hold(() => {
      this.output.released(bytes);
      if (this.finished || this.ending !== undefined) return;
      this.queue.push(text);
      this.queueBytes += bytes;
      this.flush();
    });
  }

  openStream(from: string, id: string): void {
    this.from = from;
    this.authid = id;
  }

  sendStanza(stanza: XmlElement): void {
    this.observer?.stanzaOut(stanza);
    this.send(serialize(stanza, NS_HTTPBIND));
  }

  /** XEP-0206 §6: a stream error ends the session as remote-stream-error, the error inside. */
  sendStreamError(condition: StreamErrorCondition, text?: string): void {
    this.observer?.streamErrorSent(condition);
    const error = serialize(streamErrorElement(condition, text), NS_HTTPBIND);
    this.gate.hold(() => {
      if (this.finished) return;
      this.ending ??= { condition: "remote-stream-error", content: error };
      this.flush();
    });
  }

  sendStreamClose(): void {
    this.gate.hold(() => {
      if (this.finished) return;
      this.ending ??= { content: "" };
      this.flush();
    });
  }

  resetParser(): void {}

  channelBindings(): Record<string, Buffer> {
    return {};
  }

  startTls(): void {
    throw new Error("STARTTLS does not exist over BOSH (XEP-0206 §4): use https");
  }

  close(): void {
    this.gate.hold(() => {
      if (this.finished) return;
      this.ending ??= { content: "" };
      this.flush();
      // Nothing held to carry the terminate: the session is over all the same.
      if (this.held.length === 0) this.finish();
    });
  }

  destroy(): void {
    this.ending ??= { condition: "system-shutdown", content: "" };
    this.finish();
  }

  closed(): Promise<void> {
    return this.closedPromise;
  }

  pauseReading(): void {
    // Reads are per request: a throttled client is slowed by its held requests; nothing to pause.
  }
}

/** The /http-bind route: session creation, requests routed by sid. */
export class BoshEndpoint {
  private readonly sessions = new Map<string, BoshSession>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly env: SessionStarter, private readonly registry: SessionRegistry, private readonly config: BoshConfig) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  route(): HttpRoute {
    return (req, res, pathname) => {
      if (pathname !== BOSH_PATH) return false;
      if (req.method === "OPTIONS") {
        res.writeHead(204, CORS);
        res.end();
        return true;
      }
      if (req.method !== "POST") {
        res.writeHead(405, { ...CORS, allow: "POST, OPTIONS", "content-type": "text/plain; charset=utf-8" });
        res.end(`${BOSH_PATH} is BOSH (XEP-0124, XEP-0206): POST <body/> elements here\n`);
        return true;
      }
      this.read(req, res);
      return true;
    };
  }

  private read(req: http.IncomingMessage, res: http.ServerResponse): void {
    const max = this.config.maxRequestBytes;
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) {
      reply(res, terminateBody("policy-violation"), 413);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        if (!over) reply(res, terminateBody("policy-violation"), 413);
        over = true;
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) this.handle(Buffer.concat(chunks).toString("utf8"), req, res);
    });
  }

  private handle(text: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const body = parseBody(text, this.config.maxRequestBytes, this.env.config.limits.maxDepth);
    if (typeof body === "string") return reply(res, terminateBody("bad-request"), 400);
    const ridText = body.attrs.rid ?? "";
    const rid = /^\d{1,16}$/.test(ridText) ? Number(ridText) : NaN;
    if (!Number.isSafeInteger(rid)) return reply(res, terminateBody("bad-request"), 400);
    const sid = body.attrs.sid;
    if (sid === undefined) return this.create(body, rid, req, res);
    const session = this.sessions.get(sid);
    // §17.2: an unknown (or ended) session.
    if (!session) return reply(res, terminateBody("item-not-found"), 404);
    session.request(body, rid, req, res);
  }

  /** §7.1 session creation: the client's asks, bounded by ours. */
  private create(body: XmlElement, rid: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    const to = (body.attrs.to ?? "").toLowerCase();
    if (to === "" || !this.env.servesDomain(to)) return reply(res, terminateBody("host-unknown"));
    const address = req.socket.remoteAddress ?? "unknown";
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.config.sessionsPerAddress) {
      this.env.log.warn("refusing a BOSH session: too many from this address", { address });
      return reply(res, terminateBody("policy-violation"));
    }
    const asked = (name: string, fallback: number) => {
      const v = Number(body.attrs[name]);
      return Number.isInteger(v) && v >= 0 ? v : fallback;
    };
    const c = this.config;
    const wait = Math.max(1, Math.min(asked("wait", c.maxWaitSeconds), c.maxWaitSeconds));
    const hold = Math.min(asked("hold", 1), c.maxHold);
    const negotiated: Negotiated = {
      wait, hold, requests: hold + 1, inactivity: c.inactivitySeconds, polling: c.pollingSeconds,
      maxPause: c.maxPauseSeconds, acks: body.attrs.ack === "1", to, lang: body.attrs["xml:lang"],
    };
    const sid = randomBytes(18).toString("base64url");
    const sessionId = newSessionId();
    let actor: AnyActorRef | undefined;
    const send = (event: SessionEvent) => actor?.send(event);
    const observer = observe(this.env, sessionId, "bosh", address);
    const gate = sessionStanzaGate(this.env, { id: sessionId, address, send, pauseReading: () => {} });
    const session = new BoshSession(sid, address, rid, negotiated, this.env.config.limits.maxUnsentOutputBytes, {
      streamStart: (attrs) => send({ type: "xml.streamStart", attrs, ns: NS.stream, localName: "stream", defaultNs: NS.client }),
      stanza: (stanza) => {
        observer.stanzaIn(stanza);
        gate(stanza);
      },
      streamEnd: () => {
        observer.peerClosedStream();
        send({ type: "xml.streamEnd" });
      },
      notReading: (unsent) => notReading(this.env, { id: sessionId, address, send }, unsent),
      closed: () => {
        observer.closed();
        send({ type: "socket.closed" });
      },
    }, this.env.commitGate, (gone) => {
      if (!this.sessions.delete(gone)) return;
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    session.observer = observer;
    this.sessions.set(sid, session);
    this.perAddress.set(address, open + 1);
    actor = this.env.startSession(sessionId, session);
    this.registry.add(sessionId, actor, session, address);
    session.start(body, req, res);
  }

  /** Shutdown: every session ends (system-shutdown), its held requests answered. */
  closeAll(): void {
    for (const s of [...this.sessions.values()]) s.terminate("system-shutdown");
  }
}

