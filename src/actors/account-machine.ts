// One actor per user: the single writer of that user's sessions, presence,
// roster and block list. Started on demand when a session binds or a stanza
// arrives for the user; stopped after it has had no session for
// `accountIdleSeconds`.
//
//   loading ──▶ ready ┬ idle ◀──(last session ends)── active
//                     │   └──(a session binds)──────────▲
//                     └ (idle timeout) ──────────────────────▶ stopped
//   ready ──account.refresh──▶ refreshing ──▶ ready (where it was)
//   any ──account.deleted──▶ deleted (every session closed) ──▶ stopped
//
// `loading` folds the stored state in one bounded step (the newest snapshot
// and the events after it). The machine only says when things happen; what
// happens lives in the kernel's dispatch and the feature modules. Its context
// holds the user's runtime state and nothing of the server: the kernel's
// services are closed over when the machine is made.
import { setup } from "xstate";
import type { AccountCommand } from "./account-types.js";
import type { Jid } from "../jid/jid.js";
import { AccountRuntime } from "../kernel/account.js";
import type { KernelServices } from "../kernel/services.js";
import { dispatchInbound, dispatchOutbound } from "../kernel/account-dispatch.js";
import { bindResource, endSession, kickAllSessions } from "../kernel/resource-binding.js";
import type { XmlElement } from "../xml/element.js";
import { errorReply } from "../xmpp/errors.js";

export interface AccountInput {
  jid: Jid;
  /** Told when the actor stops, so the supervisor can forget it. */
  onStopped: (bareJid: string) => void;
}

export interface AccountMachineContext {
  runtime: AccountRuntime;
  onStopped: (bareJid: string) => void;
}

export interface AccountActorServices extends KernelServices {
  /** Folds the user's stored state (roster, block list) into the runtime. */
  loadAccountState(runtime: AccountRuntime): void;
}

/**
 * A stanza whose handling threw (a bug, a full disk): its sender gets
 * internal-server-error instead of silence, and the state, which may be half
 * changed, is folded afresh from the log; if even that fails, the user's
 * streams are closed so that clients reconnect to a fresh actor.
 */
function survive(k: AccountActorServices, runtime: AccountRuntime, stanza: XmlElement, answer: () => void, work: () => void): void {
  try {
    work();
  } catch (err) {
    k.log.error("handling a stanza failed; answering internal-server-error and reloading the account", {
      account: runtime.bareJid, stanza: stanza.name, id: stanza.attrs.id, error: String((err as Error)?.stack ?? err),
    });
    if (stanza.attrs.type !== "error" && !(stanza.name === "iq" && stanza.attrs.type === "result")) answer();
    try {
      k.loadAccountState(runtime);
    } catch (again) {
      k.log.error("reloading the account failed; closing its sessions", { account: runtime.bareJid, error: String(again) });
      kickAllSessions(runtime, "The server could not load this account", "internal-server-error");
    }
  }
}

const INTERNAL = { condition: "internal-server-error" as const, text: "The server failed to handle this stanza" };

export function createAccountMachine(k: AccountActorServices) {
  return setup({
    types: {
      context: {} as AccountMachineContext,
      events: {} as AccountCommand,
      input: {} as AccountInput,
    },
    guards: {
      hasSessions: ({ context }) => context.runtime.sessions.size > 0,
    },
    delays: {
      idleTimeout: () => k.config.accountIdleSeconds * 1000,
    },
    actions: {
      loadState: ({ context }) => {
        k.loadAccountState(context.runtime);
        k.hooks.fire("account-loaded", { account: context.runtime });
      },
      reloadState: ({ context }) => k.loadAccountState(context.runtime),
      bindSession: ({ context, event }) => {
        if (event.type === "session.bind") bindResource(k, context.runtime, event.session, event.requestedResource, event.bind2);
      },
      endSession: ({ context, event }) => {
        if (event.type === "session.ended") endSession(k, context.runtime, event.sessionId, event.resource, event.unacknowledged);
      },
      handleOutbound: ({ context, event }) => {
        if (event.type !== "stanza.outbound") return;
        const { runtime } = context;
        survive(k, runtime, event.stanza,
          () => runtime.deliver(event.resource, errorReply(event.stanza, INTERNAL, runtime.jid.domain)),
          () => dispatchOutbound(k, runtime, event.resource, event.stanza, event.to));
      },
      handleInbound: ({ context, event }) => {
        if (event.type !== "stanza.inbound") return;
        const { runtime } = context;
        survive(k, runtime, event.stanza,
          () => k.router.bounce(event.stanza, INTERNAL, runtime.bareJid),
          () => dispatchInbound(k, runtime, event.stanza, event.to));
      },
      continueWork: ({ event }) => {
        if (event.type === "account.continue") event.run();
      },
      kickAll: ({ context }) => kickAllSessions(context.runtime, "This account has been deleted"),
      announceStopped: ({ context }) => context.onStopped(context.runtime.bareJid),
    },
  }).createMachine({
    id: "account",
    context: ({ input }) => ({ runtime: new AccountRuntime(input.jid), onStopped: input.onStopped }),
    initial: "loading",
    on: {
      "account.deleted": { target: ".deleted" },
    },
    states: {
      loading: {
        entry: "loadState",
        always: { target: "ready" },
      },
      ready: {
        initial: "idle",
        on: {
          "stanza.outbound": { actions: "handleOutbound" },
          "stanza.inbound": { actions: "handleInbound" },
          "account.continue": { actions: "continueWork" },
          "account.refresh": { target: "refreshing" },
        },
        states: {
          idle: {
            tags: ["idle"],
            after: { idleTimeout: { target: "#account.stopped" } },
            on: {
              "session.bind": { target: "checkingSessions", actions: "bindSession" },
              // A replaced session's end, with what it never saw acknowledged (XEP-0198 §5).
              "session.ended": { actions: "endSession" },
            },
          },
          active: {
            tags: ["active"],
            on: {
              "session.bind": { actions: "bindSession" },
              "session.ended": { target: "checkingSessions", actions: "endSession" },
            },
          },
          // Transient: decide after a session was added or removed.
          checkingSessions: {
            always: [
              { guard: "hasSessions", target: "active" },
              { target: "idle" },
            ],
          },
          previous: { type: "history" },
        },
      },
      // Another process appended to the stream: fold it in, then carry on where we were.
      refreshing: {
        entry: "reloadState",
        always: { target: "ready.previous" },
      },
      deleted: {
        entry: "kickAll",
        always: { target: "stopped" },
      },
      stopped: {
        type: "final",
        entry: "announceStopped",
      },
    },
  });
}

export type AccountMachine = ReturnType<typeof createAccountMachine>;
