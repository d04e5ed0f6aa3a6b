// The life of one client-to-server stream (RFC 6120), as an XState machine.
//
//             ┌───── negotiatingTls ◀──<starttls/>───┐
//             ▼ TLS is up: a new stream (§5.4.3.3)   │
//   connected ──header──▶ streamOpen ─────────────────┴──<auth/>──▶ authenticating ──<success/>──▶ authenticated
//                            ▲                           (verifying ⇄ awaitingResponse)                │ new header (§6.4.6)
//                            └── authFailed ◀──<failure/>, <abort/>──┘                                 ▼
//                                (growing delay)                             bindable ──<bind/>──▶ binding ──▶ bound
//   any state: </stream:stream> ▶ closed;  stream error or kick ▶ closing ▶ closed;  socket gone ▶ closed
//
// XEP-0198 stream management, after binding (or instead of it: <resume/> in bindable):
//   bound ──socket gone, resumable──▶ detached ──<resume/> on another stream──▶ resumed (it goes on there)
//     │                                  └──timeout, kick, queue full──▶ expired (unacknowledged to the account)
//     └──<resume/> on another stream while this one seems alive──▶ replaced
//   SASL2 (XEP-0388), beside classic SASL, with no stream restart:
//   streamOpen ──<authenticate/>──▶ sasl2 (verifying ⇄ awaitingResponse) ─<success/>+features─▶ bindable
//                                     └─ inline <bind/> (XEP-0386) ─▶ binding2 ──<success><bound/>──▶ bound
//   failures go through authFailed, as classic ones do, answered in SASL2's <failure/>.
//
// Input that arrives in the wrong state is answered by the guard-ordered
// transitions of that state (stream errors per RFC 6120 §4.9), never by flags.
// Work that finishes later (a SASL step: PLAIN's password check runs on the
// thread pool) is an actor invoked by the state that needs its outcome, so an
// outcome that arrives after the state was left dies with it. Other code asks
// a session's state by tag (SessionTag), never by state name.
// The machine decides; the Connection does the bytes, the account actor owns
// everything about the user.
import { setup, assign, and, not, fromPromise, type DoneActorEvent } from "xstate";
import type { XmlElement } from "../xml/element.js";
import { el } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import type { StreamPort } from "./stream-port.js";
import { errorReply, type StanzaErrorSpec, type StreamErrorCondition } from "../xmpp/errors.js";
import type { SessionCommand } from "./session-types.js";
import type { SessionEnvironment } from "./session-environment.js";
import { streamFeatures, type FeatureStage } from "../xmpp/stream-features.js";
import { checkStreamHeader, type StreamHeaderEvent } from "../xmpp/stream-header.js";
import { stanzaProblem } from "../xmpp/stanza-checks.js";
import { createMechanism, settle, type SaslServerMechanism, type SaslFailure, type SaslFailureCondition, type SettledSaslStep } from "../sasl/mechanism.js";
import { DeliveryOutlet, sessionRefThrough } from "./delivery-sink.js";
import { parseJid, tryParseJid, type Jid } from "../jid/jid.js";
import { saslFailure, saslChallenge, saslSuccess, decodeSaslPayload } from "../xmpp/sasl-elements.js";
import { ManagedStream, ManagedStreamRegistry, NS_SM, parseH, type SessionLink } from "./stream-management.js";
import { ClientStateFilter, NS_CSI } from "./client-state.js";
import { MALFORMED_AUTHENTICATE, parseAuthenticate, sasl2Challenge, sasl2Failure, sasl2Payload, sasl2Success, type Sasl2Request } from "../xmpp/sasl2-elements.js";
import { isHtMechanism } from "../sasl/ht.js";

export interface SessionInput {
  sessionId: string;
  conn: StreamPort;
  env: SessionEnvironment;
}

interface PendingFailure {
  condition: SaslFailureCondition;
  text?: string;
  /** Counts toward the growing delay (wrong credentials, not client mistakes). */
  counts: boolean;
  /** Set by the mechanism when the log should say why (SaslFailure.cause). */
  cause?: SaslFailure["cause"];
}

export interface SessionContext {
  sessionId: string;
  conn: StreamPort;
  env: SessionEnvironment;
  /** The domain the client asked for in its stream header. */
  domain: string;
  /** The stream's default language (RFC 6120 §4.7.4): the client's header's xml:lang, else ours. */
  lang: string;
  mechanism?: SaslServerMechanism;
  failure?: PendingFailure;
  authFailures: number;
  /** Bare JID after SASL success. */
  user?: Jid;
  /** Full JID after resource binding. */
  jid?: Jid;
  /** XEP-0388: the <authenticate/> of the SASL2 exchange under way (its failure is answered in SASL2's form). */
  sasl2?: Sasl2Request;
  /** SASL2 with an inline bind: the mechanism's final data, sent in <success/> once the bind is done. */
  sasl2SuccessData?: Buffer;
  /** What Bind2's inline features answered, for <bound/>. */
  bindInline?: readonly XmlElement[];
  /** The id of the bind IQ awaiting the account actor's answer. */
  pendingBindId?: string;
  /** Where deliveries go: a sink while `bound`, none otherwise (see delivery-sink.ts). */
  deliveries: DeliveryOutlet;
  /** Where the account actor's commands for this session go (another session's, after a resumption). */
  link: SessionLink;
  /** The session id the account actor knows the bound resource by (the first session's, after a resumption). */
  boundSessionId: string;
  /** XEP-0198, once <enable/>d (or resumed). */
  stream?: ManagedStream;
  /** XEP-0352: the first stage of the delivery sink. */
  csi: ClientStateFilter;
}

/**
 * What other code may ask of a session's state (`snapshot.hasTag`), in RFC 6120's terms:
 * - `negotiating`: stream negotiation is not complete (§4.3): nothing is bound yet;
 * - `authenticated`: SASL succeeded (§6.4.6): the user is known;
 * - `bound`: a resource is bound (§7): stanzas flow both ways, deliveries go to the sink;
 * - `closing`: we closed our stream (§4.4) and wait for the client to close its own;
 * - `detached`: the connection is gone, the stream resumable (XEP-0198 §5): deliveries are queued.
 * The final state `closed` has none.
 */
export type SessionTag = "negotiating" | "authenticated" | "bound" | "closing" | "detached";

/** What one SASL step decided (RFC 6120 §6.4): the output of the `saslStep` actor. */
type SaslOutcome =
  | { kind: "challenge"; data: Buffer }
  | { kind: "success"; data: Buffer | undefined; user: Jid }
  | { kind: "failure"; failure: PendingFailure };

interface SaslStepInput {
  mechanism: SaslServerMechanism | undefined;
  /** The decoded payload of the <auth/> or <response/> (undefined: not valid base64). */
  message: Buffer | undefined;
  domain: string;
}

/**
 * One SASL step, as an actor invoked by `authenticating.verifying`: leaving that
 * state (an <abort/>, a stream error, the socket gone) stops it, and XState
 * drops the outcome of a stopped promise actor.
 */
const saslStep = fromPromise<SaslOutcome, SaslStepInput>(async ({ input }) => {
  if (!input.mechanism) return { kind: "failure", failure: { condition: "invalid-mechanism", counts: false } };
  if (input.message === undefined) return { kind: "failure", failure: { condition: "incorrect-encoding", counts: false } };
  return saslOutcome(await settle(input.mechanism.step(input.message)), input.domain);
});

/** The outcome a `saslStep` actor finished with, as the params of the actions and guards that read it. */
const stepOutcome = ({ event }: { event: DoneActorEvent<SaslOutcome> }): SaslOutcome => event.output;

export type SessionEvent =
  | StreamHeaderEvent
  | { type: "xml.stanza"; stanza: XmlElement }
  | { type: "xml.streamEnd" }
  | { type: "xml.error"; condition: StreamErrorCondition; text: string }
  | { type: "socket.closed" }
  | { type: "idle.timeout" }
  | { type: "tls.established" }
  | { type: "tls.failed"; reason: string }
  | SessionCommand;

const isNonza = (ns: string, name: string) => ({ event }: { event: SessionEvent }) =>
  event.type === "xml.stanza" && event.stanza.name === name && event.stanza.ns === ns;

/** The managed stream a <resume previd='…'/> names, if this user's and still resumable (XEP-0198 §5). */
function resumeTarget(context: SessionContext, resume: XmlElement): ManagedStream | undefined {
  const previd = resume.attrs.previd;
  const user = context.user;
  if (previd === undefined || !user) return undefined;
  return context.env.streamManagement?.registry.find(previd, user);
}

/** The session actor a link currently names, looked up at each command (it changes on resumption). */
function linkedActor(link: SessionLink): { send(command: SessionCommand): void } {
  return { send: (command) => link.actor.send(command) };
}

const isSasl = (name: string) => ({ event }: { event: SessionEvent }) =>
  event.type === "xml.stanza" && event.stanza.name === name && event.stanza.ns === NS.sasl;

const isSasl2 = (name: string) => ({ event }: { event: SessionEvent }) =>
  event.type === "xml.stanza" && event.stanza.name === name && event.stanza.ns === NS.sasl2;

function bindRequest(stanza: XmlElement): XmlElement | undefined {
  if (stanza.name !== "iq" || stanza.attrs.type !== "set") return undefined;
  return stanza.getChild("bind", NS.bind);
}

function isSessionIq(stanza: XmlElement): boolean {
  return stanza.name === "iq" && stanza.attrs.type === "set" && stanza.getChild("session", NS.session) !== undefined;
}

function stanzaOf(event: SessionEvent): XmlElement {
  if (event.type !== "xml.stanza") throw new Error(`expected xml.stanza, got ${event.type}`);
  return event.stanza;
}

/** Growing delay before a SASL failure is reported (brute-force damping). */
export function saslFailureDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(5000, 100 * 2 ** (failures - 1));
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
    tags: {} as SessionTag,
  },
  actors: { saslStep },
  guards: {
    attemptedAccountLocked: ({ context }) => {
      const account = attemptedAccount(context);
      return account !== undefined && (context.env.accountLockedFor(account) ?? 0) > 0;
    },
    headerAcceptable: ({ context, event }) =>
      event.type === "xml.streamStart" && checkStreamHeader(event, context.env) === undefined,
    isSaslAuth: isSasl("auth"),
    isSasl2Authenticate: isSasl2("authenticate"),
    isSasl2Response: isSasl2("response"),
    isSasl2Abort: isSasl2("abort"),
    sasl2RequestWellFormed: ({ event }) => typeof parseAuthenticate(stanzaOf(event)) !== "string",
    sasl2MechanismOffered: ({ context, event }) => {
      const name = stanzaOf(event).attrs.mechanism ?? "";
      return context.env.mechanismsFor(context.conn).includes(name) || context.env.fastMechanismsFor(context.conn).includes(name);
    },
    /** XEP-0484 §3.3: a token belongs to a user agent; a token login must name one. */
    sasl2TokenLoginHasUserAgent: ({ event }) => {
      const request = parseAuthenticate(stanzaOf(event));
      return typeof request === "string" || !isHtMechanism(request.mechanism) || request.userAgentId !== undefined;
    },
    /** XEP-0386 §3: the <authenticate/> asked to bind inline. */
    wantsInlineBind: ({ context }) => context.sasl2?.bind !== undefined,
    /** XEP-0198 §5 inline in SASL2: the <resume/> names a stream of this user that can go on, with a sound h. */
    inlineResumeFound: ({ context }) => {
      const resume = context.sasl2?.resume;
      const target = resume && resumeTarget(context, resume);
      const h = parseH(resume?.attrs.h);
      return target !== undefined && h !== undefined && target.wouldAcknowledge(h);
    },
    isSaslResponse: isSasl("response"),
    isSaslAbort: isSasl("abort"),
    mechanismOffered: ({ context, event }) => {
      const name = stanzaOf(event).attrs.mechanism ?? "";
      return context.env.mechanismsFor(context.conn).includes(name);
    },
    encryptionSatisfied: ({ context }) => context.env.mayAuthenticate(context.conn),
    isBindRequest: ({ event }) => event.type === "xml.stanza" && bindRequest(event.stanza) !== undefined,
    isSessionRequest: ({ event }) => event.type === "xml.stanza" && isSessionIq(event.stanza),
    isSaslElement: ({ event }) => event.type === "xml.stanza" && (event.stanza.ns === NS.sasl || event.stanza.ns === NS.sasl2),
    isStartTls: ({ event }) => event.type === "xml.stanza" && event.stanza.name === "starttls" && event.stanza.ns === NS.tls,
    tlsAvailable: ({ context }) => context.conn.canStartTls,
    isRegistrationIq: ({ event }) =>
      event.type === "xml.stanza" && event.stanza.name === "iq" && event.stanza.ns === NS.client &&
      event.stanza.getChild("query", NS.register) !== undefined,
    isMalformedStanza: ({ event }) => event.type === "xml.stanza" && stanzaProblem(event.stanza) !== undefined,
    isRoutableStanza: ({ event }) =>
      event.type === "xml.stanza" && event.stanza.ns === NS.client &&
      (event.stanza.name === "message" || event.stanza.name === "presence" || event.stanza.name === "iq"),
    saslChallenged: (_, outcome: SaslOutcome) => outcome.kind === "challenge",
    isSmEnable: isNonza(NS_SM, "enable"),
    isSmResume: isNonza(NS_SM, "resume"),
    isSmRequest: isNonza(NS_SM, "r"),
    isSmAnswer: isNonza(NS_SM, "a"),
    isSmElement: ({ event }) => event.type === "xml.stanza" && event.stanza.ns === NS_SM,
    smOffered: ({ context }) => context.env.streamManagement !== undefined,
    smEnabled: ({ context }) => context.stream !== undefined,
    streamResumable: ({ context }) => context.stream?.resumable === true,
    /** XEP-0198 §4: an h of more stanzas than were sent is an error. */
    answerCountsSent: ({ context, event }) => {
      const h = parseH(stanzaOf(event).attrs.h);
      return h !== undefined && context.stream !== undefined && context.stream.wouldAcknowledge(h);
    },
    /** §5: the previd names a stream of this user that can still be resumed. */
    resumableStreamFound: ({ context, event }) => resumeTarget(context, stanzaOf(event)) !== undefined,
    resumeCountsSent: ({ context, event }) => {
      const h = parseH(stanzaOf(event).attrs.h);
      const target = resumeTarget(context, stanzaOf(event));
      return h !== undefined && target !== undefined && target.wouldAcknowledge(h);
    },
    isCsiActive: isNonza(NS_CSI, "active"),
    isCsiInactive: isNonza(NS_CSI, "inactive"),
    csiOffered: ({ context }) => context.env.csiMaxQueue !== undefined,
    saslSucceeded: (_, outcome: SaslOutcome) => outcome.kind === "success",
  },
  delays: {
    saslFailureDelay: ({ context }) =>
      context.failure?.counts
        ? saslFailureDelayMs(Math.max(context.authFailures,
          context.env.authFailuresFor(context.conn.remoteAddress, attemptedAccount(context))))
        : 0,
    closeGrace: 2000,
    resumeTimeout: ({ context }) => (context.stream?.timeoutSeconds ?? 0) * 1000,
  },
  actions: {
    openStream: ({ context }) => {
      context.conn.openStream(context.domain, context.sessionId);
    },
    rememberDomain: assign({
      domain: ({ context, event }) =>
        event.type === "xml.streamStart" ? (event.attrs.to ?? context.env.defaultDomain).toLowerCase() : context.domain,
    }),
    rememberLanguage: assign({
      lang: ({ context, event }) =>
        event.type === "xml.streamStart" && event.attrs["xml:lang"] ? event.attrs["xml:lang"] : context.lang,
    }),
    sendFeatures: ({ context }, params: { stage: FeatureStage }) => {
      context.conn.sendStanza(streamFeatures(params.stage, context.env, context.conn, context.domain));
    },
    rejectHeader: ({ context, event }) => {
      if (event.type !== "xml.streamStart") return;
      const problem = checkStreamHeader(event, context.env);
      context.conn.openStream(context.env.defaultDomain, context.sessionId);
      if (problem) context.conn.sendStreamError(problem.condition, problem.text);
      context.conn.sendStreamClose();
      context.conn.close();
    },
    /** RFC 6120 §4.9.1.2: an error before our header still needs a header first. */
    failBeforeHeader: ({ context, event }) => {
      if (event.type !== "xml.error") return;
      context.conn.openStream(context.env.defaultDomain, context.sessionId);
      context.conn.sendStreamError(event.condition, event.text);
      context.conn.sendStreamClose();
      context.conn.close();
    },
    sendStreamError: ({ context }, params: { condition: StreamErrorCondition; text?: string }) => {
      context.env.log.debug("stream error", { session: context.sessionId, condition: params.condition });
      context.conn.sendStreamError(params.condition, params.text);
    },
    sendStreamErrorFromEvent: ({ context, event }) => {
      if (event.type === "xml.error" || event.type === "session.kick") {
        context.env.log.info("closing stream with error", {
          session: context.sessionId, condition: event.condition, jid: context.jid?.toString(),
        });
        context.conn.sendStreamError(event.condition, event.text);
      } else if (event.type === "idle.timeout") {
        context.conn.sendStreamError("connection-timeout", "No data received for too long");
      }
    },
    sendStreamClose: ({ context }) => context.conn.sendStreamClose(),
    /** XEP-0077: account registration is the one IQ allowed before authentication. */
    answerRegistration: ({ context, event }) => {
      context.conn.sendStanza(context.env.preAuthRegistration(context.domain, stanzaOf(event), context.conn.remoteAddress));
    },
    /** RFC 6120 §5.4.2.3: proceed, then the TLS handshake on the same socket. */
    proceedWithTls: ({ context }) => {
      context.conn.sendStanza(el("proceed", NS.tls));
      context.conn.startTls();
    },
    /** RFC 6120 §5.4.2.2: STARTTLS is not possible here: failure, then close. */
    refuseTls: ({ context }) => {
      context.conn.sendStanza(el("failure", NS.tls));
      context.conn.sendStreamClose();
      context.conn.close();
    },
    logTlsFailure: ({ context, event }) => {
      if (event.type === "tls.failed") context.env.log.info("TLS negotiation failed", { session: context.sessionId, reason: event.reason });
    },
    closeSocket: ({ context }) => context.conn.close(),
    createMechanism: assign({
      mechanism: ({ context, event }) => {
        const name = stanzaOf(event).attrs.mechanism ?? "";
        return createMechanism(name, context.env.credentialLookup(context.domain), {
          channelBindings: context.conn.channelBindings(),
          channelBindingAdvertised: context.env.mechanismsFor(context.conn).some((m) => m.endsWith("-PLUS")),
        });
      },
    }),
    /** XEP-0388 §2.3: the request is kept for the whole exchange (user agent, inline bind, FAST). */
    rememberSasl2: assign({
      sasl2: ({ event }) => {
        const request = parseAuthenticate(stanzaOf(event));
        // A malformed <authenticate/> is still answered in SASL2's form.
        return typeof request === "string" ? MALFORMED_AUTHENTICATE : request;
      },
    }),
    createSasl2Mechanism: assign({
      mechanism: ({ context }) => {
        const request = context.sasl2;
        if (!request) return undefined;
        if (isHtMechanism(request.mechanism)) {
          return request.userAgentId === undefined ? undefined
            : context.env.createFastMechanism(request.mechanism, context.domain, request.userAgentId, context.conn);
        }
        return createMechanism(request.mechanism, context.env.credentialLookup(context.domain), {
          channelBindings: context.conn.channelBindings(),
          channelBindingAdvertised: context.env.mechanismsFor(context.conn).some((m) => m.endsWith("-PLUS")),
        });
      },
    }),
    sendSasl2Challenge: ({ context }, outcome: SaslOutcome) => {
      if (outcome.kind === "challenge") context.conn.sendStanza(sasl2Challenge(outcome.data));
    },
    /** The authenticated user, with the mechanism kept until <success/> is out (FAST reads it). */
    acceptSasl2User: assign({
      user: (_, outcome: SaslOutcome) => (outcome.kind === "success" ? outcome.user : undefined),
      sasl2SuccessData: (_, outcome: SaslOutcome) => (outcome.kind === "success" ? outcome.data : undefined),
    }),
    /**
     * XEP-0388 §2.6.1: success without a stream restart; the authorization
     * identifier is the bare JID, or the full JID when Bind2 bound a resource,
     * with <bound/> and XEP-0484's <token/> when there are.
     */
    sendSasl2Success: ({ context }) => {
      const user = context.user;
      const request = context.sasl2;
      if (!user || !request) return;
      const token = context.env.fastAfterSuccess(user, request, context.mechanism, context.conn);
      const stream = context.stream;
      const enabled = stream && el("enabled", NS_SM, stream.resumable ? { id: stream.id, resume: "true", max: String(stream.timeoutSeconds) } : {});
      const bound = context.jid && el("bound", NS.bind2, {}, ...(context.bindInline ?? []), enabled);
      context.env.log.info("authenticated", {
        session: context.sessionId, user: user.toString(), sasl2: true, mechanism: request.mechanism,
        userAgent: request.userAgentId, software: request.software, jid: context.jid?.toString(),
      });
      context.conn.sendStanza(sasl2Success(context.sasl2SuccessData, (context.jid ?? user).toString(),
        [bound, token].filter((e): e is XmlElement => e !== undefined)));
    },
    /** §5, inline: take the stream over as <resume/> in bindable does. */
    adoptInlineStream: assign(({ context }) => {
      const resume = context.sasl2?.resume;
      const target = resume && resumeTarget(context, resume);
      if (!target) return {};
      return { stream: target, deliveries: target.outlet, link: target.link, jid: target.jid, boundSessionId: target.sessionId };
    }),
    /** §5 in SASL2: <resumed/> inside <success/>, then what the client did not acknowledge, in order. */
    resumeInlineStream: ({ context, self }) => {
      const stream = context.stream;
      const user = context.user;
      const request = context.sasl2;
      if (!stream || !user || !request) return;
      const previous = stream.link.actor;
      stream.link.actor = self;
      previous.send({ type: "sm.takeover" });
      const h = parseH(request.resume?.attrs.h);
      if (h !== undefined) stream.acknowledge(h);
      context.env.streamManagement?.registry.add(stream);
      const token = context.env.fastAfterSuccess(user, request, context.mechanism, context.conn);
      context.conn.sendStanza(sasl2Success(context.sasl2SuccessData, stream.jid.toString(),
        [el("resumed", NS_SM, { previd: stream.id, h: String(stream.inbound) }), token].filter((e): e is XmlElement => e !== undefined)));
      for (const stanza of stream.unacked) context.conn.sendStanza(stanza);
      if (stream.unacked.length > 0) {
        stream.ackRequested = true;
        context.conn.sendStanza(el("r", NS_SM));
      }
      context.env.log.info("stream resumed inline (SASL2)", { session: context.sessionId, jid: stream.jid.toString(), resent: stream.unacked.length });
    },
    clearSasl2: assign({ mechanism: undefined, sasl2: undefined, sasl2SuccessData: undefined, bindInline: undefined }),
    /** XEP-0386 §3: the account actor binds the resource derived from the user agent and enables the inline features. */
    requestInlineBind: ({ context, self }) => {
      const user = context.user;
      const bind = context.sasl2?.bind;
      if (!user || !bind) return;
      const tag = bind.getChildText("tag", NS.bind2)?.trim();
      context.env.account(user.bareString()).send({
        type: "session.bind",
        session: sessionRefThrough(context.sessionId, context.deliveries, self),
        requestedResource: context.env.bind2Resource(user, context.sasl2?.userAgentId, tag === "" ? undefined : tag),
        bind2: bind,
      });
    },
    acceptInlineBind: assign({
      jid: ({ event }) => (event.type === "bind.result" ? event.jid : undefined),
      bindInline: ({ event }) => (event.type === "bind.result" ? event.inline ?? [] : []),
    }),
    /** An inline bind refused (too many sessions): the login fails, the client may retry. */
    failInlineBind: assign({
      failure: ({ event }): PendingFailure => ({
        condition: "temporary-auth-failure", counts: false,
        text: event.type === "bind.error" ? `Binding failed: ${event.error.text ?? event.error.condition}` : "Binding failed",
      }),
    }),
    failWith: assign({ failure: (_, params: PendingFailure) => params }),
    /** The account has failed too often lately: a temporary lockout (counted nowhere: it is not a guess). */
    failLocked: assign({
      failure: ({ context }): PendingFailure => {
        const minutes = Math.ceil((context.env.accountLockedFor(attemptedAccount(context) ?? "") ?? 0) / 60_000);
        return { condition: "temporary-auth-failure" as const, counts: false,
          text: `Too many failed logins for this account; try again in ${minutes} minute${minutes === 1 ? "" : "s"}` };
      },
    }),
    failWithOutcome: assign({ failure: (_, outcome: SaslOutcome) => (outcome.kind === "failure" ? outcome.failure : undefined) }),
    logSaslError: ({ context }, params: { error: unknown }) => {
      context.env.log.error("a SASL step failed", {
        session: context.sessionId, error: params.error instanceof Error ? params.error.message : String(params.error),
      });
    },
    countFailure: assign({
      authFailures: ({ context }) => (context.failure?.counts ? context.authFailures + 1 : context.authFailures),
    }),
    noteFailureForAddress: ({ context }) => {
      if (context.failure?.counts) context.env.noteAuthFailure(context.conn.remoteAddress, attemptedAccount(context));
    },
    sendSaslFailure: ({ context }) => {
      const f: PendingFailure = context.failure ?? { condition: "not-authorized", counts: false };
      if (f.cause === "channel-binding-downgrade") {
        // Not a wrong password: say so, so that an operator can tell an old client (slixmpp 1.8,
        // which binds only with tls-unique) or a stripped offer from a guesser.
        context.env.log.info("SASL refused a channel-binding downgrade (gs2 flag 'y' while -PLUS is offered, RFC 5802 §6); not counted as a failed password", {
          session: context.sessionId, address: context.conn.remoteAddress, mechanism: context.mechanism?.name,
          bindings: Object.keys(context.conn.channelBindings()).join(","),
        });
      } else {
        context.env.log.info("authentication failed", {
          session: context.sessionId, mechanism: context.mechanism?.name, user: attemptedAccount(context),
          condition: f.condition, reason: f.text ?? f.cause, address: context.conn.remoteAddress, counted: f.counts,
        });
      }
      context.conn.sendStanza(context.sasl2 ? sasl2Failure(f.condition, f.text) : saslFailure(f.condition, f.text));
    },
    clearMechanism: assign({ mechanism: undefined, failure: undefined, sasl2: undefined, sasl2SuccessData: undefined, user: undefined }),
    sendChallenge: ({ context }, outcome: SaslOutcome) => {
      if (outcome.kind === "challenge") context.conn.sendStanza(saslChallenge(outcome.data));
    },
    acceptUser: assign({
      user: (_, outcome: SaslOutcome) => (outcome.kind === "success" ? outcome.user : undefined),
      mechanism: undefined,
    }),
    /** RFC 6120 §6.4.6: success, then both sides discard the stream and the client opens a new one. */
    sendSaslSuccess: ({ context }, outcome: SaslOutcome) => {
      if (outcome.kind !== "success") return;
      context.env.log.info("authenticated", { session: context.sessionId, user: outcome.user.toString() });
      context.conn.sendStanza(saslSuccess(outcome.data));
      context.conn.resetParser();
    },
    requestBind: ({ context, event }) => {
      const bind = bindRequest(stanzaOf(event));
      const user = context.user;
      if (!bind || !user) return;
      const requested = bind.getChildText("resource")?.trim();
      context.env.account(user.bareString()).send({
        type: "session.bind",
        session: sessionRefThrough(context.sessionId, context.deliveries, linkedActor(context.link)),
        requestedResource: requested === "" ? undefined : requested,
      });
    },
    rememberBindId: assign({ pendingBindId: ({ event }) => stanzaOf(event).attrs.id }),
    acceptJid: assign({ jid: ({ event }) => (event.type === "bind.result" ? event.jid : undefined) }),
    sendBindResult: ({ context }) => {
      const jid = context.jid;
      if (!jid) return;
      context.conn.sendStanza(el("iq", NS.client, { type: "result", id: context.pendingBindId },
        el("bind", NS.bind, {}, el("jid", NS.bind, {}, jid.toString()))));
      context.env.log.info("bound", { session: context.sessionId, jid: jid.toString() });
    },
    sendBindError: ({ context, event }) => {
      if (event.type !== "bind.error") return;
      context.conn.sendStanza(errorReply(
        el("iq", NS.client, { id: context.pendingBindId }), event.error));
    },
    replySessionResult: ({ context, event }) => {
      const iq = stanzaOf(event);
      writeBound(context, el("iq", NS.client, { type: "result", id: iq.attrs.id }));
    },
    replyIqError: ({ context, event }, params: StanzaErrorSpec) => {
      const iq = stanzaOf(event);
      writeBound(context, errorReply(iq, params));
    },
    /**
     * Hand a client stanza to the user's account actor, stamped with the full
     * JID (RFC 6120 §8.1.2.1) and, when it has none, the stream's xml:lang
     * (§8.1.5: "the client's server SHOULD add an 'xml:lang' attribute whose
     * value is that specified for the stream").
     */
    routeOutbound: ({ context, event }) => {
      const jid = context.jid;
      if (!jid || event.type !== "xml.stanza") return;
      const full = jid.toString();
      const stanza = event.stanza.attrs.from === full && event.stanza.attrs["xml:lang"] !== undefined
        ? event.stanza
        : event.stanza.withAttrs({ from: full, "xml:lang": event.stanza.attrs["xml:lang"] ?? context.lang });
      // RFC 6120 §8.1.1.1: no `to` is the user's own bare JID; a bad one was answered by replyStanzaProblem.
      const to = stanza.attrs.to === undefined ? undefined : tryParseJid(stanza.attrs.to);
      context.env.account(jid.bareString()).send({
        type: "stanza.outbound",
        resource: jid.resource,
        stanza,
        to,
      });
    },
    replyStanzaProblem: ({ context, event }) => {
      const stanza = stanzaOf(event);
      const problem = stanzaProblem(stanza);
      // An error is never answered with an error (RFC 6120 §8.3.1).
      if (!problem || stanza.attrs.type === "error") return;
      writeBound(context, errorReply(stanza.withAttrs({ from: context.jid?.toString() }), problem, context.domain));
    },
    /** Entering `bound`: from now on deliveries are written without a macrostep of this actor. */
    attachDeliverySink: ({ context, self }) => {
      const conn = context.conn;
      const write = (stanza: XmlElement) => conn.sendStanza(stanza);
      context.csi.downstream = context.stream ? context.stream.sink(write, () => self.send({ type: "sm.overflow" })) : { deliver: write };
      context.deliveries.attach(context.csi);
    },
    withdrawDeliverySink: ({ context }) => context.deliveries.withdraw(context.csi),
    /** XEP-0198 §5: the connection is gone; what is delivered now is counted and queued for a resumption. */
    attachQueueSink: ({ context, self }) => {
      const stream = context.stream;
      if (!stream) return;
      context.csi.downstream = stream.sink(undefined, () => self.send({ type: "sm.overflow" }));
      context.csi.setActive(); // what CSI held joins the queue
      context.deliveries.attach(context.csi);
      context.env.log.info("stream detached, resumable", { session: context.sessionId, jid: context.jid?.toString(), seconds: stream.timeoutSeconds });
      if (context.jid) context.env.streamManagement?.detached(context.jid);
    },
    /** XEP-0198 §3: <enable/>; with resume='true', a stream id and the `max` we keep it for (§5). */
    enableStreamManagement: assign({ stream: ({ context, event }) => managedStreamFor(context, stanzaOf(event)) }),
    /**
     * XEP-0386 §3 with XEP-0198: <enable/> inside the SASL2 <bind/> takes effect
     * with the bind; its <enabled/> goes in <bound/>, and the delivery sink that
     * `bound` attaches counts from the first stanza.
     */
    enableInlineStreamManagement: assign({
      stream: ({ context }) => {
        const enable = context.sasl2?.bind?.getChild("enable", NS_SM);
        return enable ? managedStreamFor(context, enable) : undefined;
      },
    }),
    registerInlineStream: ({ context }) => {
      if (context.stream?.resumable) context.env.streamManagement?.registry.add(context.stream);
    },
    announceStreamManagement: ({ context, self }) => {
      const stream = context.stream;
      if (!stream) return;
      if (stream.resumable) context.env.streamManagement?.registry.add(stream);
      context.conn.sendStanza(el("enabled", NS_SM, stream.resumable
        ? { id: stream.id, resume: "true", max: String(stream.timeoutSeconds) } : {}));
      // From here on every stanza written is counted (§4).
      const conn = context.conn;
      context.csi.downstream = stream.sink((stanza) => conn.sendStanza(stanza), () => self.send({ type: "sm.overflow" }));
    },
    sendSmFailed: ({ context }, params: { condition: "unexpected-request" | "item-not-found" | "feature-not-implemented" }) => {
      context.conn.sendStanza(el("failed", NS_SM, {}, el(params.condition, NS.stanzas)));
    },
    /** §4: <r/> is answered with the number of stanzas handled. */
    sendAck: ({ context }) => {
      if (context.stream) context.conn.sendStanza(el("a", NS_SM, { h: String(context.stream.inbound) }));
    },
    acknowledge: ({ context, event }) => {
      const h = parseH(stanzaOf(event).attrs.h);
      if (h !== undefined) context.stream?.acknowledge(h);
    },
    /** §4: every stanza received (message, presence, iq) counts once it is handled. */
    countInbound: ({ context }) => {
      if (context.stream) context.stream.inbound = (context.stream.inbound + 1) % 2 ** 32;
    },
    /** §5: take the detached (or still connected) stream over: its outlet, its link to the account actor, its jid. */
    adoptStream: assign(({ context, event }) => {
      const target = resumeTarget(context, stanzaOf(event));
      if (!target) return {};
      return { stream: target, deliveries: target.outlet, link: target.link, jid: target.jid, boundSessionId: target.sessionId };
    }),
    resumeStream: ({ context, event, self }) => {
      const stream = context.stream;
      if (!stream) return;
      const previous = stream.link.actor;
      stream.link.actor = self;
      previous.send({ type: "sm.takeover" });
      const h = parseH(stanzaOf(event).attrs.h);
      if (h !== undefined) stream.acknowledge(h);
      context.env.streamManagement?.registry.add(stream);
      context.conn.sendStanza(el("resumed", NS_SM, { previd: stream.id, h: String(stream.inbound) }));
      // §5: what the client did not acknowledge is sent again, in order (it keeps its numbers).
      for (const stanza of stream.unacked) context.conn.sendStanza(stanza);
      if (stream.unacked.length > 0) {
        stream.ackRequested = true;
        context.conn.sendStanza(el("r", NS_SM));
      }
      context.env.log.info("stream resumed", { session: context.sessionId, jid: stream.jid.toString(), resent: stream.unacked.length });
      context.env.streamManagement?.resumed(stream.jid);
    },
    unregisterStream: ({ context }) => {
      if (context.stream) context.env.streamManagement?.registry.remove(context.stream);
    },
    clientInactive: ({ context }) => context.csi.setInactive(),
    clientActive: ({ context }) => context.csi.setActive(),
    /** The stream goes on in another session: this one only leaves. */
    forgetSession: ({ context }) => {
      context.env.sessionClosed(context.sessionId);
      context.env.log.debug("session handed its stream over", { session: context.sessionId, jid: context.jid?.toString() });
    },
    /** A delivery sent to the actor itself while bound: through the same sink as the fast path. */
    deliverToSink: ({ context, event }) => {
      if (event.type === "deliver") writeBound(context, event.stanza);
    },
    /**
     * The account actor learns of every bound session's end, clean or not,
     * with what a managed stream sent and never saw acknowledged (XEP-0198 §5).
     */
    notifySessionEnded: ({ context }) => {
      const jid = context.jid;
      if (jid) {
        const stream = context.stream;
        if (stream) context.env.streamManagement?.registry.remove(stream);
        const unacknowledged = stream ? stream.drain() : [];
        context.env.account(jid.bareString()).send({
          type: "session.ended", sessionId: context.boundSessionId, resource: jid.resource,
          ...(unacknowledged.length > 0 ? { unacknowledged } : {}),
        });
      }
      context.env.sessionClosed(context.sessionId);
      context.env.log.debug("session closed", { session: context.sessionId, jid: jid?.toString() });
    },
  },
}).createMachine({
  id: "session",
  context: ({ input, self }) => ({
    sessionId: input.sessionId,
    link: { actor: self },
    boundSessionId: input.sessionId,
    csi: new ClientStateFilter(input.env.csiMaxQueue ?? 1),
    conn: input.conn,
    env: input.env,
    domain: input.env.defaultDomain,
    lang: "en", // what our stream header declares (net/connection.ts)
    authFailures: 0,
    deliveries: new DeliveryOutlet(),
  }),
  initial: "connected",
  on: {
    // Defaults for every state; states override them where the answer differs.
    "xml.streamEnd": { target: ".closed", actions: "sendStreamClose" },
    "xml.error": { target: ".closing", actions: "sendStreamErrorFromEvent" },
    "session.kick": { target: ".closing", actions: "sendStreamErrorFromEvent" },
    "idle.timeout": { target: ".closing", actions: "sendStreamErrorFromEvent" },
    "socket.closed": { target: ".closed" },
    // A stream header in the middle of a stream is not well-formed XML (one root element).
    "xml.streamStart": {
      target: ".closing",
      actions: { type: "sendStreamError", params: { condition: "not-well-formed", text: "Unexpected stream header" } },
    },
    // Stanzas for a session that is not bound are dropped: nobody can address it yet.
    deliver: {},
    "bind.result": {},
    "bind.error": {},
    "sm.takeover": {},
    "sm.overflow": {},
  },
  states: {
    // TCP is up; we wait for the client's stream header (RFC 6120 §4.2). Also after TLS (§5.4.3.3).
    connected: {
      tags: "negotiating",
      on: {
        "xml.streamStart": [
          {
            guard: "headerAcceptable",
            target: "streamOpen",
            actions: ["rememberDomain", "rememberLanguage", "openStream", { type: "sendFeatures", params: { stage: "pre-auth" } }],
          },
          { target: "closed", actions: "rejectHeader" },
        ],
        "xml.error": { target: "closed", actions: "failBeforeHeader" },
        "session.kick": { target: "closed" },
        "idle.timeout": { target: "closed" },
      },
    },
    // Both stream headers are out and the pre-auth features offered (§4.3.2): STARTTLS, SASL, registration.
    streamOpen: {
      tags: "negotiating",
      on: {
        "xml.stanza": [
          { guard: and(["isStartTls", "tlsAvailable"]), target: "negotiatingTls", actions: "proceedWithTls" },
          { guard: "isStartTls", target: "closed", actions: "refuseTls" },
          { guard: and(["isRegistrationIq", "encryptionSatisfied"]), actions: "answerRegistration" },
          {
            guard: and(["isSaslAuth", not("encryptionSatisfied")]),
            target: "authFailed",
            actions: {
              type: "failWith",
              params: {
                condition: "encryption-required",
                text: "Authentication requires TLS here: use STARTTLS (or Direct TLS) first",
                counts: false,
              },
            },
          },
          {
            guard: and(["isSaslAuth", not("mechanismOffered")]),
            target: "authFailed",
            actions: { type: "failWith", params: { condition: "invalid-mechanism", counts: false } },
          },
          { guard: "isSaslAuth", target: "authenticating", actions: "createMechanism" },
          // XEP-0388 §2.3, with the same checks as <auth/>.
          {
            guard: and(["isSasl2Authenticate", not("encryptionSatisfied")]),
            target: "authFailed",
            actions: ["rememberSasl2", {
              type: "failWith",
              params: { condition: "encryption-required", text: "Authentication requires TLS here: use STARTTLS (or Direct TLS) first", counts: false },
            }],
          },
          {
            guard: and(["isSasl2Authenticate", not("sasl2RequestWellFormed")]),
            target: "authFailed",
            actions: ["rememberSasl2", { type: "failWith", params: { condition: "malformed-request", text: "The <authenticate/> is malformed", counts: false } }],
          },
          {
            guard: and(["isSasl2Authenticate", not("sasl2MechanismOffered")]),
            target: "authFailed",
            actions: ["rememberSasl2", { type: "failWith", params: { condition: "invalid-mechanism", counts: false } }],
          },
          {
            guard: and(["isSasl2Authenticate", not("sasl2TokenLoginHasUserAgent")]),
            target: "authFailed",
            actions: ["rememberSasl2", { type: "failWith", params: { condition: "malformed-request", text: "A FAST token login needs a <user-agent id/>", counts: false } }],
          },
          { guard: "isSasl2Authenticate", target: "sasl2", actions: ["rememberSasl2", "createSasl2Mechanism"] },
          {
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Authenticate first" } },
          },
        ],
      },
    },
    // After <proceed/>: the TLS handshake; then the client opens a new stream (RFC 6120 §5.4.3.3).
    negotiatingTls: {
      tags: "negotiating",
      on: {
        "tls.established": { target: "connected" },
        "tls.failed": { target: "closed", actions: "logTlsFailure" },
        "xml.stanza": {},
      },
    },
    // The SASL exchange (RFC 6120 §6.4.2–§6.4.5): each client message is one step of the mechanism.
    authenticating: {
      tags: "negotiating",
      initial: "verifying",
      on: {
        "xml.stanza": [
          // §6.4.4: the client may abort at any time; an outcome still being worked out is dropped.
          {
            guard: "isSaslAbort",
            target: "authFailed",
            actions: { type: "failWith", params: { condition: "aborted", counts: false } },
          },
          {
            guard: "isSaslAuth",
            target: "authFailed",
            actions: {
              type: "failWith",
              params: { condition: "malformed-request", text: "An authentication exchange is already in progress", counts: false },
            },
          },
          {
            guard: "isSaslResponse",
            target: "authFailed",
            actions: {
              type: "failWith",
              params: { condition: "malformed-request", text: "A response before the challenge", counts: false },
            },
          },
          {
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Authenticate first" } },
          },
        ],
      },
      states: {
        // The mechanism works on the <auth/> or <response/> that led here (PLAIN: off the event loop).
        verifying: {
          invoke: {
            src: "saslStep",
            input: ({ context, event }) => ({ mechanism: context.mechanism, message: saslMessage(event), domain: context.domain }),
            onDone: [
              {
                guard: { type: "saslChallenged", params: stepOutcome },
                target: "awaitingResponse",
                actions: { type: "sendChallenge", params: stepOutcome },
              },
              {
                // A locked account fails every attempt alike, right password or not: the lock tells nothing.
                guard: "attemptedAccountLocked",
                target: "#session.authFailed",
                actions: "failLocked",
              },
              {
                guard: { type: "saslSucceeded", params: stepOutcome },
                target: "#session.authenticated",
                actions: [{ type: "acceptUser", params: stepOutcome }, { type: "sendSaslSuccess", params: stepOutcome }],
              },
              { target: "#session.authFailed", actions: { type: "failWithOutcome", params: stepOutcome } },
            ],
            onError: {
              target: "#session.authFailed",
              actions: [
                { type: "logSaslError", params: ({ event }) => ({ error: event.error }) },
                { type: "failWith", params: { condition: "temporary-auth-failure", text: "The credentials could not be checked", counts: false } },
              ],
            },
          },
        },
        // §6.4.3: a challenge is out; the client's <response/> is the next step.
        awaitingResponse: {
          on: {
            "xml.stanza": { guard: "isSaslResponse", target: "verifying" },
          },
        },
      },
    },
    // XEP-0388 §2.4-§2.6: the same steps as classic SASL, in SASL2's elements; no stream restart after.
    sasl2: {
      tags: "negotiating",
      initial: "verifying",
      on: {
        "xml.stanza": [
          {
            guard: "isSasl2Abort",
            target: "authFailed",
            actions: { type: "failWith", params: { condition: "aborted", counts: false } },
          },
          {
            guard: "isSasl2Authenticate",
            target: "authFailed",
            actions: {
              type: "failWith",
              params: { condition: "malformed-request", text: "An authentication exchange is already in progress", counts: false },
            },
          },
          {
            guard: "isSasl2Response",
            target: "authFailed",
            actions: { type: "failWith", params: { condition: "malformed-request", text: "A response before the challenge", counts: false } },
          },
          {
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Authenticate first" } },
          },
        ],
      },
      states: {
        verifying: {
          invoke: {
            src: "saslStep",
            input: ({ context, event }) => ({ mechanism: context.mechanism, message: sasl2Message(event), domain: context.domain }),
            onDone: [
              {
                guard: { type: "saslChallenged", params: stepOutcome },
                target: "awaitingResponse",
                actions: { type: "sendSasl2Challenge", params: stepOutcome },
              },
              { guard: "attemptedAccountLocked", target: "#session.authFailed", actions: "failLocked" },
              { guard: { type: "saslSucceeded", params: stepOutcome }, target: "accepted", actions: { type: "acceptSasl2User", params: stepOutcome } },
              { target: "#session.authFailed", actions: { type: "failWithOutcome", params: stepOutcome } },
            ],
            onError: {
              target: "#session.authFailed",
              actions: [
                { type: "logSaslError", params: ({ event }) => ({ error: event.error }) },
                { type: "failWith", params: { condition: "temporary-auth-failure", text: "The credentials could not be checked", counts: false } },
              ],
            },
          },
        },
        awaitingResponse: {
          on: {
            "xml.stanza": { guard: "isSasl2Response", target: "verifying" },
          },
        },
        // Authenticated: resume a stream (XEP-0198 inline), bind inline (XEP-0386), or neither.
        accepted: {
          always: [
            { guard: "inlineResumeFound", target: "#session.bound", actions: ["adoptInlineStream", "resumeInlineStream", "clearSasl2"] },
            { guard: "wantsInlineBind", target: "binding2", actions: "requestInlineBind" },
            { target: "#session.bindable", actions: ["sendSasl2Success", "clearSasl2", { type: "sendFeatures", params: { stage: "post-auth" } }] },
          ],
        },
        // XEP-0386 §3: authenticated; the account actor binds and enables the inline features.
        binding2: {
          tags: "authenticated",
          on: {
            "bind.result": {
              target: "#session.bound",
              actions: ["acceptInlineBind", "enableInlineStreamManagement", "registerInlineStream", "sendSasl2Success", "clearSasl2",
                { type: "sendFeatures", params: { stage: "bound" } }],
            },
            "bind.error": { target: "#session.authFailed", actions: "failInlineBind" },
            "xml.stanza": {
              target: "#session.closing",
              actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Wait for the authentication result" } },
            },
          },
        },
      },
    },
    // §6.4.5: the failure is reported after a delay that grows with each wrong password.
    authFailed: {
      tags: "negotiating",
      entry: ["countFailure", "noteFailureForAddress"],
      after: {
        saslFailureDelay: { target: "streamOpen", actions: ["sendSaslFailure", "clearMechanism"] },
      },
      on: {
        "xml.stanza": [
          // The client may abort or retry before it hears of the failure; its turn comes after it.
          { guard: "isSaslElement" },
          {
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Authenticate first" } },
          },
        ],
      },
    },
    // §6.4.6: after <success/> the client opens a new stream on the same connection.
    authenticated: {
      tags: ["negotiating", "authenticated"],
      on: {
        "xml.streamStart": [
          {
            guard: "headerAcceptable",
            target: "bindable",
            actions: ["rememberLanguage", "openStream", { type: "sendFeatures", params: { stage: "post-auth" } }],
          },
          { target: "closed", actions: "rejectHeader" },
        ],
      },
    },
    // §7.1, §7.4: the post-auth features offer resource binding, which must come before any stanza.
    bindable: {
      tags: ["negotiating", "authenticated"],
      on: {
        "xml.stanza": [
          { guard: "isBindRequest", target: "binding", actions: ["rememberBindId", "requestBind"] },
          // XEP-0198 §5: resumption instead of binding.
          {
            guard: and(["isSmResume", "smOffered", "resumableStreamFound", not("resumeCountsSent")]),
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "undefined-condition", text: "handled-count-too-high: h is more than the server sent" } },
          },
          { guard: and(["isSmResume", "smOffered", "resumableStreamFound"]), target: "bound", actions: ["adoptStream", "resumeStream"] },
          { guard: and(["isSmResume", "smOffered"]), actions: { type: "sendSmFailed", params: { condition: "item-not-found" } } },
          // §3: <enable/> before binding is unexpected.
          { guard: and(["isSmElement", "smOffered"]), actions: { type: "sendSmFailed", params: { condition: "unexpected-request" } } },
          {
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Bind a resource first" } },
          },
        ],
      },
    },
    // §7.6, §7.7: the account actor decides the resource (or refuses it, e.g. a conflict).
    binding: {
      tags: ["negotiating", "authenticated"],
      on: {
        "bind.result": { target: "bound", actions: ["acceptJid", "sendBindResult"] },
        "bind.error": { target: "bindable", actions: "sendBindError" },
        "xml.stanza": {
          target: "closing",
          actions: { type: "sendStreamError", params: { condition: "not-authorized", text: "Wait for the bind result" } },
        },
      },
    },
    // §4.3.5, §7: negotiation is complete; stanzas flow both ways, deliveries through the sink.
    bound: {
      tags: ["authenticated", "bound"],
      entry: "attachDeliverySink",
      exit: "withdrawDeliverySink",
      on: {
        "xml.stanza": [
          // Stanzas first: they are nearly all of the traffic, and no nonza below is in jabber:client.
          { guard: "isSessionRequest", actions: ["countInbound", "replySessionResult"] },
          {
            guard: "isBindRequest",
            actions: ["countInbound", { type: "replyIqError", params: { condition: "not-allowed", text: "A resource is already bound to this stream" } }],
          },
          { guard: and(["isRoutableStanza", "isMalformedStanza"]), actions: ["countInbound", "replyStanzaProblem"] },
          { guard: "isRoutableStanza", actions: ["countInbound", "routeOutbound"] },
          // XEP-0198 nonzas (§3 enable, §4 acks); none of them is counted.
          { guard: and(["isSmEnable", "smOffered", not("smEnabled")]), actions: ["enableStreamManagement", "announceStreamManagement"] },
          { guard: and(["isSmRequest", "smEnabled"]), actions: "sendAck" },
          { guard: and(["isSmAnswer", "smEnabled", "answerCountsSent"]), actions: "acknowledge" },
          {
            guard: and(["isSmAnswer", "smEnabled"]),
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "undefined-condition", text: "handled-count-too-high: h is more than the server sent" } },
          },
          { guard: and(["isSmElement", "smOffered"]), actions: { type: "sendSmFailed", params: { condition: "unexpected-request" } } },
          // XEP-0352 §5.
          { guard: and(["isCsiInactive", "csiOffered"]), actions: "clientInactive" },
          { guard: and(["isCsiActive", "csiOffered"]), actions: "clientActive" },
          {
            target: "closing",
            actions: { type: "sendStreamError", params: { condition: "unsupported-stanza-type", text: "Only message, presence and iq are allowed here" } },
          },
        ],
        deliver: { actions: "deliverToSink" },
        // XEP-0198 §5: a connection lost (not a stream closed) leaves a resumable stream behind.
        "socket.closed": [{ guard: "streamResumable", target: "detached" }, { target: "closed" }],
        "sm.takeover": { target: "replaced" },
        "sm.overflow": {
          target: "closing",
          actions: { type: "sendStreamError", params: { condition: "resource-constraint", text: "Too many unacknowledged stanzas" } },
        },
      },
    },
    // XEP-0198 §5: no connection; the resource stays bound, deliveries are counted and queued until a
    // <resume/> takes the stream over or the timeout (`max`) passes.
    detached: {
      tags: ["authenticated", "detached"],
      entry: "attachQueueSink",
      exit: "withdrawDeliverySink",
      after: { resumeTimeout: { target: "expired" } },
      on: {
        deliver: { actions: "deliverToSink" },
        "sm.takeover": { target: "resumed" },
        "sm.overflow": { target: "expired" },
        "session.kick": { target: "expired" },
        "socket.closed": {},
        "idle.timeout": {},
        "xml.streamEnd": {},
        "xml.error": {},
        "xml.stanza": {},
        "xml.streamStart": {},
      },
    },
    // The stream was resumed on another connection: this session's part is over, the resource's is not.
    resumed: {
      type: "final",
      entry: "forgetSession",
    },
    // §5: a <resume/> came from a new connection while this one still seemed alive: it yields.
    replaced: {
      type: "final",
      entry: [{ type: "sendStreamError", params: { condition: "conflict", text: "This stream was resumed on another connection" } },
        "sendStreamClose", "closeSocket", "forgetSession"],
    },
    // The resumption timeout passed (or the session was kicked, or its queue filled): the session ends,
    // and what was never acknowledged goes to the account actor (offline storage, XEP-0198 §5).
    expired: {
      type: "final",
      entry: "notifySessionEnded",
    },
    closing: {
      // RFC 6120 §4.4: we close our stream and our half of the TCP connection,
      // then give the client a moment to close its own.
      tags: "closing",
      entry: ["unregisterStream", "sendStreamClose", "closeSocket"],
      after: { closeGrace: { target: "closed" } },
      on: {
        "xml.streamEnd": { target: "closed" },
        "xml.error": { target: "closed" },
        "idle.timeout": { target: "closed" },
        "xml.stanza": {},
        "xml.streamStart": {},
        "session.kick": {},
      },
    },
    closed: {
      type: "final",
      entry: ["closeSocket", "notifySessionEnded"],
    },
  },
});

/**
 * A stanza for the client of a bound stream. Every stanza written in `bound`
 * (deliveries and the session's own replies) passes the delivery sink, so that
 * stream management can count them all (XEP-0198 §4 counts every stanza sent).
 */
function writeBound(context: SessionContext, stanza: XmlElement): void {
  if (!context.deliveries.offer(stanza)) {
    throw new Error(`session ${context.sessionId}: no delivery sink attached in bound, writing <${stanza.name}/>`);
  }
}

/** The account a failed attempt was for (per-account failure counting), if the client named one. */
/**
 * The account a SASL attempt named, prepared as the login would prepare it
 * (RFC 7622), so that `ｃarol` and `Carol` count toward carol's failures.
 */
function attemptedAccount(context: SessionContext): string | undefined {
  const name = context.mechanism?.attemptedUsername;
  if (name === undefined) return undefined;
  const jid = tryParseJid(`${name}@${context.domain}`);
  return jid && jid.resource === "" ? jid.bareString() : `${name.toLowerCase()}@${context.domain}`;
}

/** The decoded payload of the <auth/> or <response/> a SASL step works on (RFC 6120 §6.4.2: base64, "=" for empty). */
function saslMessage(event: SessionEvent): Buffer | undefined {
  return event.type === "xml.stanza" ? decodeSaslPayload(event.stanza.text()) : undefined;
}

/** XEP-0198 §3, §5: the managed stream an <enable/> asks for (resumable with resume='true', for at most our `max`). */
function managedStreamFor(context: SessionContext, request: XmlElement): ManagedStream | undefined {
  const sm = context.env.streamManagement;
  const jid = context.jid;
  if (!sm || !jid) return undefined;
  const resume = request.attrs.resume === "true" || request.attrs.resume === "1";
  const asked = parseH(request.attrs.max);
  const timeout = asked !== undefined && asked > 0 ? Math.min(asked, sm.timeoutSeconds) : sm.timeoutSeconds;
  return new ManagedStream(resume ? ManagedStreamRegistry.newId() : undefined, jid, context.boundSessionId,
    context.deliveries, context.link, timeout, sm.maxQueue);
}

/** The payload of a SASL2 <authenticate/> or <response/> (XEP-0388 §2.2: base64, "=" for empty). */
function sasl2Message(event: SessionEvent): Buffer | undefined {
  return event.type === "xml.stanza" ? sasl2Payload(event.stanza) : undefined;
}

/** What a finished SASL step tells the machine (RFC 6120 §6.4). */
function saslOutcome(step: SettledSaslStep, domain: string): SaslOutcome {
  if (step.kind === "challenge") return { kind: "challenge", data: step.data };
  if (step.kind === "failure") {
    return { kind: "failure", failure: { condition: step.condition, text: step.text, counts: step.counts, ...(step.cause ? { cause: step.cause } : {}) } };
  }
  const user = userFromSasl(step.username, step.authzid, domain);
  if (typeof user === "string") return { kind: "failure", failure: { condition: "invalid-authzid", text: user, counts: false } };
  return { kind: "success", data: step.data, user };
}

/** The authenticated bare JID, or a reason the authzid is refused (RFC 6120 §6.3.8). */
function userFromSasl(username: string, authzid: string | undefined, domain: string): Jid | string {
  let user: Jid;
  try {
    user = parseJid(`${username}@${domain}`);
  } catch {
    return `'${username}' is not a valid username`;
  }
  if (authzid !== undefined && authzid !== "") {
    try {
      if (!parseJid(authzid).equals(user)) return "authorization identity must be your own bare JID";
    } catch {
      return "authorization identity is not a valid JID";
    }
  }
  return user;
}
