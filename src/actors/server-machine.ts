// The root of the actor system: it spawns and stops the session and account
// actors, which find each other through the system by their systemIds
// (`account:<bare JID>`, `session:<id>`).
import { setup, enqueueActions } from "xstate";
import { accountMachine, type AccountInput } from "./account-machine.js";
import { sessionMachine, type SessionInput } from "./session-machine.js";

export type ServerEvent =
  | { type: "account.start"; input: AccountInput }
  | { type: "account.stop"; bareJid: string }
  | { type: "session.start"; input: SessionInput }
  | { type: "session.stop"; sessionId: string };

export const accountSystemId = (bareJid: string): string => `account:${bareJid}`;
export const sessionSystemId = (sessionId: string): string => `session:${sessionId}`;

export const serverMachine = setup({
  types: { events: {} as ServerEvent },
  actors: { account: accountMachine, session: sessionMachine },
  actions: {
    spawnAccount: enqueueActions(({ enqueue, event }) => {
      if (event.type !== "account.start") return;
      const id = accountSystemId(event.input.jid.bareString());
      enqueue.spawnChild("account", { id, systemId: id, input: event.input });
    }),
    stopAccount: enqueueActions(({ enqueue, event }) => {
      if (event.type === "account.stop") enqueue.stopChild(accountSystemId(event.bareJid));
    }),
    spawnSession: enqueueActions(({ enqueue, event }) => {
      if (event.type !== "session.start") return;
      const id = sessionSystemId(event.input.sessionId);
      enqueue.spawnChild("session", { id, systemId: id, input: event.input });
    }),
    stopSession: enqueueActions(({ enqueue, event }) => {
      if (event.type === "session.stop") enqueue.stopChild(sessionSystemId(event.sessionId));
    }),
  },
}).createMachine({
  id: "parley",
  on: {
    "account.start": { actions: "spawnAccount" },
    "account.stop": { actions: "stopAccount" },
    "session.start": { actions: "spawnSession" },
    "session.stop": { actions: "stopSession" },
  },
});
