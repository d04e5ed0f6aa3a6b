// What a client can do to a c2s stream and what it then observes: the model
// from which the session machine's tests are generated (xstate/graph). Each
// state names the session machine state the server must be in (nested states
// as "parent.child").
import { setup } from "xstate";

export type ModelEvent =
  | { type: "CONNECT" }
  | { type: "SEND_HEADER" }
  | { type: "SEND_HEADER_UNKNOWN_HOST" }
  | { type: "SEND_GARBAGE" }
  | { type: "AUTH_PLAIN" }
  | { type: "SCRAM_FIRST" }
  | { type: "SCRAM_FINAL" }
  | { type: "SASL_ABORT" }
  | { type: "AUTH_WRONG_PASSWORD" }
  | { type: "AUTH_PLAIN_ABORTED" }
  | { type: "AUTH_UNKNOWN_MECHANISM" }
  | { type: "STANZA_BEFORE_AUTH" }
  | { type: "RESTART" }
  | { type: "STANZA_BEFORE_BIND" }
  | { type: "BIND" }
  | { type: "PING" }
  | { type: "BIND_AGAIN" }
  | { type: "UNKNOWN_ELEMENT" }
  | { type: "CLOSE_STREAM" };

export const c2sModel = setup({ types: { events: {} as ModelEvent } }).createMachine({
  id: "c2s-client",
  initial: "disconnected",
  states: {
    disconnected: { on: { CONNECT: "connected" } },
    connected: {
      meta: { server: "connected" },
      on: {
        SEND_HEADER: "streamOpen",
        SEND_HEADER_UNKNOWN_HOST: "closedByServer",
        SEND_GARBAGE: "closedByServer",
      },
    },
    streamOpen: {
      meta: { server: "streamOpen" },
      on: {
        AUTH_PLAIN: "authenticated",
        SCRAM_FIRST: "scramChallenged",
        AUTH_WRONG_PASSWORD: "streamOpen",
        // PLAIN and <abort/> in one write: the abort arrives while the password is checked.
        AUTH_PLAIN_ABORTED: "streamOpen",
        AUTH_UNKNOWN_MECHANISM: "streamOpen",
        STANZA_BEFORE_AUTH: "closedByServer",
        SEND_GARBAGE: "closedByServer",
        CLOSE_STREAM: "closedByClient",
      },
    },
    // SCRAM's server-first-message is out (RFC 5802 §5); the client's final message is next.
    scramChallenged: {
      meta: { server: "authenticating.awaitingResponse" },
      on: {
        SCRAM_FINAL: "authenticated",
        SASL_ABORT: "streamOpen",
        SEND_GARBAGE: "closedByServer",
      },
    },
    authenticated: {
      meta: { server: "authenticated" },
      on: { RESTART: "bindable", SEND_GARBAGE: "closedByServer" },
    },
    bindable: {
      meta: { server: "bindable" },
      on: {
        BIND: "bound",
        STANZA_BEFORE_BIND: "closedByServer",
        CLOSE_STREAM: "closedByClient",
      },
    },
    bound: {
      meta: { server: "bound" },
      on: {
        PING: "bound",
        BIND_AGAIN: "bound",
        UNKNOWN_ELEMENT: "closedByServer",
        SEND_GARBAGE: "closedByServer",
        CLOSE_STREAM: "closedByClient",
      },
    },
    closedByServer: { type: "final" },
    closedByClient: { type: "final" },
  },
});
