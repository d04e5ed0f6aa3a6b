// Starts, finds and stops the account and session actors. Each is a root
// XState actor kept in a Map, not a child of one server machine: in XState v5
// spawning or stopping a child copies the parent's whole `children` object, so
// with thousands of sessions every login and logout cost O(sessions) (the
// profile of 2,000 idle logins spent 53% of the server's CPU there).
import { createActor, type Actor } from "xstate";
import { accountMachine, type AccountInput } from "./account-machine.js";
import { sessionMachine, type SessionInput } from "./session-machine.js";

export type AccountActor = Actor<typeof accountMachine>;
export type SessionActor = Actor<typeof sessionMachine>;

export interface SupervisorLog {
  error(message: string, fields: { error: string }): void;
}

export class Supervisor {
  private readonly accounts = new Map<string, AccountActor>();
  private readonly sessions = new Map<string, SessionActor>();

  constructor(private readonly log: SupervisorLog) {}

  /** The running account actor of a bare JID, if any. */
  account(bareJid: string): AccountActor | undefined {
    const ref = this.accounts.get(bareJid);
    return ref && ref.getSnapshot().status === "active" ? ref : undefined;
  }

  startAccount(input: AccountInput): AccountActor {
    const bareJid = input.jid.bareString();
    const actor = createActor(accountMachine, { id: `account:${bareJid}`, input });
    this.accounts.set(bareJid, actor);
    this.watch(actor, `account ${bareJid}`, () => {
      if (this.accounts.get(bareJid) === actor) this.accounts.delete(bareJid);
    });
    actor.start();
    return actor;
  }

  stopAccount(bareJid: string): void {
    const actor = this.accounts.get(bareJid);
    if (!actor) return;
    this.accounts.delete(bareJid);
    actor.stop();
  }

  startSession(input: SessionInput): SessionActor {
    const actor = createActor(sessionMachine, { id: `session:${input.sessionId}`, input });
    this.sessions.set(input.sessionId, actor);
    this.watch(actor, `session ${input.sessionId}`, () => {
      if (this.sessions.get(input.sessionId) === actor) this.sessions.delete(input.sessionId);
    });
    actor.start();
    return actor;
  }

  stopSession(sessionId: string): void {
    const actor = this.sessions.get(sessionId);
    if (!actor) return;
    this.sessions.delete(sessionId);
    actor.stop();
  }

  /** Stops every actor (shutdown). */
  stopAll(): void {
    for (const actor of this.sessions.values()) actor.stop();
    for (const actor of this.accounts.values()) actor.stop();
    this.sessions.clear();
    this.accounts.clear();
  }

  get counts(): { accounts: number; sessions: number } {
    return { accounts: this.accounts.size, sessions: this.sessions.size };
  }

  /** An actor that fails is logged and forgotten, never left to crash the process. */
  private watch(actor: { subscribe(observer: { error(err: unknown): void; complete(): void }): unknown }, what: string, forget: () => void): void {
    actor.subscribe({
      error: (err: unknown) => {
        forget();
        this.log.error(`${what} failed`, { error: err instanceof Error ? err.stack ?? err.message : String(err) });
      },
      complete: forget,
    });
  }
}
