// The errors the account decider throws for an illegal command. Each names
// the stanza error condition (RFC 6120 §8.3.3) a module answers with, and
// carries the context a log line needs: which account, which command, and
// the JID(s) it was about.
import type { StanzaErrorCondition } from "../../xmpp/errors.js";

export interface DecisionContext {
  /** The bare JID of the account whose stream the command was for. */
  readonly account: string;
  /** The command's kind, e.g. "roster.remove". */
  readonly command: string;
  /** The contact or JIDs the command was about, when it named any. */
  readonly subject?: string | readonly string[];
}

export abstract class DecisionError<C extends StanzaErrorCondition = StanzaErrorCondition> extends Error {
  constructor(readonly condition: C, message: string, readonly context: DecisionContext) {
    super(message);
  }
}

/** Account lifecycle (register, password change, delete; XEP-0077). */
export class AccountError extends DecisionError<"conflict" | "item-not-found"> {
  /** The older name of the condition, which the CLI and registration module test. */
  readonly code: "exists" | "not-found";
  readonly jid: string;

  constructor(code: "exists" | "not-found", jid: string, command = code === "exists" ? "register" : "password.change") {
    super(
      code === "exists" ? "conflict" : "item-not-found",
      code === "exists" ? `the account ${jid} already exists` : `there is no account ${jid}`,
      { account: jid, command },
    );
    this.name = "AccountError";
    this.code = code;
    this.jid = jid;
  }
}

export type RosterErrorCondition = "bad-request" | "not-allowed" | "item-not-found" | "not-acceptable" | "policy-violation";

/** Roster management (RFC 6121 §2.3-2.5). */
export class RosterError extends DecisionError<RosterErrorCondition> {
  constructor(condition: RosterErrorCondition, message: string, context: DecisionContext = { account: "", command: "roster" }) {
    super(condition, message, context);
    this.name = "RosterError";
  }
}

export type BlockingErrorCondition = "bad-request" | "policy-violation";

/** Block list changes (XEP-0191 §3.3, §3.4). */
export class BlockingError extends DecisionError<BlockingErrorCondition> {
  constructor(condition: BlockingErrorCondition, message: string, context: DecisionContext = { account: "", command: "block" }) {
    super(condition, message, context);
    this.name = "BlockingError";
  }
}

/** A command whose stream moved again after the one reload and retry (the handler gives up). */
export class StreamConflictError extends Error {
  constructor(readonly account: string, readonly command: string, readonly expected: number, readonly actual: number, override readonly cause: Error) {
    super(`the stream of ${account} changed twice while deciding ${command} (expected version ${expected}, found ${actual}); gave up after one retry`);
    this.name = "StreamConflictError";
  }
}
