// One actor per user: the single writer of that user's sessions, presence,
// roster and block list. Started on demand by the server actor when a
// session binds or a stanza arrives for the user; stopped after it has had
// no session for `accountIdleSeconds`.
//
//   active ◀──(a session binds)── idle ──(idle timeout)──▶ stopped
//     └──────(last session ends)──▶┘
//
// The machine only says when things happen; what happens lives in the
// feature modules it calls (binding, presence, messages, IQs, roster).
import { setup } from "xstate";
import type { Host } from "../server/host.js";
import type { AccountCommand } from "./account-types.js";
import { AccountRuntime } from "./account-runtime.js";
import type { Jid } from "../jid/jid.js";
import { bindResource, endSession } from "../modules/resource-binding.js";
import { handleOutbound, handleInbound, kickAllSessions } from "../modules/dispatch.js";

export interface AccountInput {
  jid: Jid;
  host: Host;
  /** Told when the actor stops, so the server can forget it. */
  onStopped: (bareJid: string) => void;
}

export interface AccountMachineContext {
  runtime: AccountRuntime;
  host: Host;
  onStopped: (bareJid: string) => void;
}

export const accountMachine = setup({
  types: {
    context: {} as AccountMachineContext,
    events: {} as AccountCommand,
    input: {} as AccountInput,
  },
  guards: {
    hasSessions: ({ context }) => context.runtime.sessions.size > 0,
  },
  delays: {
    idleTimeout: ({ context }) => context.host.config.accountIdleSeconds * 1000,
  },
  actions: {
    loadState: ({ context }) => context.host.loadAccountState(context.runtime),
    bindSession: ({ context, event }) => {
      if (event.type === "session.bind") bindResource(context, event.session, event.requestedResource);
    },
    endSession: ({ context, event }) => {
      if (event.type === "session.ended") endSession(context, event.sessionId, event.resource);
    },
    handleOutbound: ({ context, event }) => {
      if (event.type === "stanza.outbound") handleOutbound(context, event.resource, event.stanza);
    },
    handleInbound: ({ context, event }) => {
      if (event.type === "stanza.inbound") handleInbound(context, event.stanza);
    },
    refreshState: ({ context }) => context.host.loadAccountState(context.runtime),
    kickAll: ({ context }) => kickAllSessions(context, "not-authorized", "This account has been deleted"),
    announceStopped: ({ context }) => context.onStopped(context.runtime.bareJid),
  },
}).createMachine({
  id: "account",
  context: ({ input }) => ({
    runtime: new AccountRuntime(input.jid),
    host: input.host,
    onStopped: input.onStopped,
  }),
  entry: "loadState",
  initial: "idle",
  on: {
    "stanza.outbound": { actions: "handleOutbound" },
    "stanza.inbound": { actions: "handleInbound" },
    "account.refresh": { actions: "refreshState" },
    "account.deleted": { target: ".stopped", actions: "kickAll" },
  },
  states: {
    idle: {
      after: { idleTimeout: { target: "stopped" } },
      on: {
        "session.bind": { target: "checkingSessions", actions: "bindSession" },
      },
    },
    active: {
      on: {
        "session.bind": { actions: "bindSession" },
        "session.ended": { target: "checkingSessions", actions: "endSession" },
      },
    },
    // A transient state: decide after the session was removed.
    checkingSessions: {
      always: [
        { guard: "hasSessions", target: "active" },
        { target: "idle" },
      ],
    },
    stopped: {
      type: "final",
      entry: "announceStopped",
    },
  },
});
