// What a remote server can do to a stream it opens to Parley's s2s listener,
// and what it then observes: the model the incoming-stream tests are
// generated from (xstate/graph). The peer speaks for peer.test to a.test (a
// served domain) and is peer.test's authoritative server too, so it decides
// whether the dialback keys a.test asks about are valid (XEP-0220 §2.3).
// Each state's meta names what the listener must hold for the peer's stream:
// "unauthenticated" (no pair), "authenticated" ("peer.test a.test"), or
// "gone" (the stream closed, no pair left).
//
// RFC 6120 §5.3.1 says only that with TLS mandatory-to-negotiate nothing but
// STARTTLS is advertised; it names no error for acting before TLS. The code
// answers a stanza with not-authorized (§4.9.3.12: data before the stream is
// authenticated) and a db:result or db:verify with policy-violation
// (§4.9.3.18: local policy, s2s.require_tls), and the model says so.
import { setup } from "xstate";

export type S2sModelEvent =
  | { type: "CONNECT" }
  | { type: "SEND_HEADER" }
  | { type: "SEND_HEADER_UNKNOWN_HOST" }
  | { type: "SEND_HEADER_WRONG_NAMESPACE" }
  | { type: "SEND_GARBAGE" }
  | { type: "STARTTLS" }
  | { type: "STARTTLS_AGAIN" }
  | { type: "DIALBACK_BEFORE_TLS" }
  | { type: "VERIFY_BEFORE_TLS" }
  | { type: "STANZA_BEFORE_TLS" }
  | { type: "DIALBACK_VALID" }
  | { type: "DIALBACK_INVALID" }
  | { type: "DIALBACK_TO_UNSERVED" }
  | { type: "VERIFY_KEYS" }
  | { type: "STANZA_BEFORE_AUTH" }
  | { type: "STANZA" }
  | { type: "STANZA_SPOOFED_FROM" }
  | { type: "STANZA_TO_UNSERVED" }
  | { type: "CLOSE_STREAM" };

export type ListenerHolds = "unauthenticated" | "authenticated" | "gone";

export const s2sModel = setup({ types: { events: {} as S2sModelEvent } }).createMachine({
  id: "s2s-peer",
  initial: "disconnected",
  states: {
    disconnected: { on: { CONNECT: "connected" } },
    connected: {
      meta: { listener: "unauthenticated" satisfies ListenerHolds },
      on: {
        // Features: STARTTLS with <required/> and nothing else (RFC 6120 §5.3.1).
        SEND_HEADER: "plainStream",
        SEND_HEADER_UNKNOWN_HOST: "closedByServer", // host-unknown, §4.9.3.6
        SEND_HEADER_WRONG_NAMESPACE: "closedByServer", // invalid-namespace, §4.9.3.10
        SEND_GARBAGE: "closedByServer", // not-well-formed after our header, §4.9.1.2
      },
    },
    plainStream: {
      meta: { listener: "unauthenticated" satisfies ListenerHolds },
      on: {
        // <proceed/>, TLS, a new header; features: dialback, no STARTTLS again (§5.4.3.3).
        STARTTLS: "secureStream",
        DIALBACK_BEFORE_TLS: "closedByServer", // policy-violation, and no verification asked
        VERIFY_BEFORE_TLS: "closedByServer", // policy-violation, and no answer about the key
        STANZA_BEFORE_TLS: "closedByServer", // not-authorized
        SEND_GARBAGE: "closedByServer",
        CLOSE_STREAM: "closedByPeer",
      },
    },
    secureStream: {
      meta: { listener: "unauthenticated" satisfies ListenerHolds },
      on: {
        // a.test asks peer.test with <db:verify id=our stream id> and answers type='valid' (XEP-0220 §2.3, §2.4).
        DIALBACK_VALID: "authenticated",
        // type='invalid', then not-authorized (XEP-0220 §2.4.2).
        DIALBACK_INVALID: "closedByServer",
        // A db:result for a domain not served: type='error' item-not-found, the stream stays (XEP-0220 §2.4.3).
        DIALBACK_TO_UNSERVED: "secureStream",
        // a.test as authoritative server: valid for its own key, invalid for another (XEP-0220 §2.3.2).
        VERIFY_KEYS: "secureStream",
        STANZA_BEFORE_AUTH: "closedByServer", // not-authorized, §4.9.3.12
        STARTTLS_AGAIN: "closedByServer", // policy-violation
        CLOSE_STREAM: "closedByPeer",
      },
    },
    authenticated: {
      meta: { listener: "authenticated" satisfies ListenerHolds },
      on: {
        STANZA: "authenticated", // delivered to alice@a.test, in jabber:client
        STANZA_SPOOFED_FROM: "closedByServer", // invalid-from, §4.9.3.9, §8.1.2.2; not delivered
        STANZA_TO_UNSERVED: "closedByServer", // host-unknown: a.test relays for nobody
        SEND_GARBAGE: "closedByServer",
        CLOSE_STREAM: "closedByPeer",
      },
    },
    // The server sent a stream error (if any), </stream:stream>, and closed the connection.
    closedByServer: { type: "final", meta: { listener: "gone" satisfies ListenerHolds } },
    // The peer sent </stream:stream>: the server closes its side too (RFC 6120 §4.4).
    closedByPeer: { type: "final", meta: { listener: "gone" satisfies ListenerHolds } },
  },
});
