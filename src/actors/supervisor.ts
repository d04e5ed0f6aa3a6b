// Starts, finds and stops the account and session actors. Each is a root
// XState actor kept in a Map, not a child of one server machine: in XState v5
// spawning or stopping a child copies the parent's whole `children` object, so
// with thousands of sessions every login and logout cost O(sessions) (the
// profile of 2,000 idle logins spent 53% of the server's CPU there).
import { createActor, type Actor } from "xstate";
import type { AccountMachine, AccountInput } from "./account-machine.js";
import { sessionMachine, type SessionInput } from "./session-machine.js";

export type AccountActor = Actor<AccountMachine>;
export type SessionActor = Actor<typeof sessionMachine>;

export interface SupervisorLog {
  error(message: string, fields: { error: string }): void;
}

export class Supervisor {
  private readonly accounts = new Map<string, AccountActor>();
  private readonly sessions = new Map<string, SessionActor>();

  constructor(private readonly log: SupervisorLog, private readonly accountMachine: AccountMachine) {}

  /** The running account actor of a bare JID, if any. */
  /** Account actors running (status, metrics). */
  get accountCount(): number {
    return this.accounts.size;
  }

  account(bareJid: string): AccountActor | undefined {
    const ref = this.accounts.get(bareJid);
    return ref && ref.getSnapshot().status === "active" ? ref : undefined;
  }

  startAccount(input: AccountInput): AccountActor {
    const bareJid = input.jid.bareString();
    return this.start(this.accounts, bareJid, createActor(this.accountMachine, { id: `account:${bareJid}`, input }));
  }

  stopAccount(bareJid: string): void {
    this.stop(this.accounts, bareJid);
  }

  startSession(input: SessionInput): SessionActor {
    return this.start(this.sessions, input.sessionId, createActor(sessionMachine, { id: `session:${input.sessionId}`, input }));
  }

  stopSession(sessionId: string): void {
    this.stop(this.sessions, sessionId);
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

  /** Registers and starts an actor; one that fails is logged and forgotten, never left to crash the process. */
  private start<A extends AccountActor | SessionActor>(map: Map<string, A>, key: string, actor: A): A {
    map.set(key, actor);
    const forget = () => {
      if (map.get(key) === actor) map.delete(key);
    };
    (actor as { subscribe(observer: { error(err: unknown): void; complete(): void }): unknown }).subscribe({
      error: (err: unknown) => {
        forget();
        this.log.error(`${actor.id} failed`, { error: err instanceof Error ? err.stack ?? err.message : String(err) });
      },
      complete: forget,
    });
    actor.start();
    return actor;
  }

  private stop<A extends AccountActor | SessionActor>(map: Map<string, A>, key: string): void {
    const actor = map.get(key);
    if (!actor) return;
    map.delete(key);
    actor.stop();
  }
}
