// Account commands for the CLI and the tests, through the account command
// handler (load the stream, decide, append; retried once on a concurrency
// conflict). Login reads the credentials projection.
import type { Database } from "better-sqlite3";
import type { EventStore } from "../events/store.js";
import type { EventCause } from "../events/types.js";
import { deriveScramCredential, deriveScramCredentialAsync, type ScramCredential, type ScramHash, DEFAULT_ITERATIONS } from "../sasl/credentials.js";
import { storeCommandHandler } from "./command-handler.js";
import { AccountError, type AccountCommand } from "./decider/index.js";

export { AccountError } from "./decider/index.js";

/** Every account gets both hashes: SCRAM-SHA-256 and, for older clients, SCRAM-SHA-1. */
const STORED_HASHES: readonly ScramHash[] = ["SHA-256", "SHA-1"];

function credentialsFor(password: string, iterations: number): ScramCredential[] {
  return STORED_HASHES.map((hash) => deriveScramCredential(password, hash, iterations));
}

export function credentialsForAsync(password: string, iterations: number): Promise<ScramCredential[]> {
  return Promise.all(STORED_HASHES.map((hash) => deriveScramCredentialAsync(password, hash, iterations)));
}

/** The CLI holds no state: every command loads the stream; effects are the server's business, not the CLI's. */
function execute(store: EventStore, jid: string, command: AccountCommand, by: EventCause): void {
  storeCommandHandler(store).execute(jid, undefined, command, by);
}

export function registerAccount(store: EventStore, jid: string, password: string, by: EventCause, iterations = DEFAULT_ITERATIONS): void {
  execute(store, jid, { kind: "register", credentials: credentialsFor(password, iterations) }, by);
}

/**
 * Registers many accounts in one transaction: all or none. The key derivations,
 * which are nearly all the cost, run on the thread pool first, in parallel.
 */
export async function registerAccounts(
  store: EventStore,
  entries: readonly { jid: string; password: string }[],
  by: EventCause,
  iterations = DEFAULT_ITERATIONS,
): Promise<void> {
  const seen = new Set<string>();
  const unique = entries.filter((e) => (seen.has(e.jid) ? false : (seen.add(e.jid), true)));
  const prepared = await Promise.all(unique.map(async (e) => ({ jid: e.jid, credentials: await credentialsForAsync(e.password, iterations) })));
  const now = new Date().toISOString();
  const handler = storeCommandHandler(store, { now: () => now });
  store.db.transaction(() => {
    for (const p of prepared) handler.execute(p.jid, undefined, { kind: "register", credentials: p.credentials }, by);
  })();
}

export function changePassword(store: EventStore, jid: string, password: string, by: EventCause, iterations = DEFAULT_ITERATIONS): void {
  execute(store, jid, { kind: "password.change", credentials: credentialsFor(password, iterations) }, by);
}

export function deleteAccount(store: EventStore, jid: string, by: EventCause, reason = "deleted by an administrator"): void {
  execute(store, jid, { kind: "delete", reason }, by);
}

export function getCredential(db: Database, jid: string, hash: ScramHash): ScramCredential | undefined {
  const row = db.prepare(`SELECT hash, salt, iterations, stored_key AS storedKey, server_key AS serverKey
    FROM account_credentials WHERE jid = ? AND hash = ?`).get(jid, hash) as ScramCredential | undefined;
  return row;
}

export function accountExists(db: Database, jid: string): boolean {
  return db.prepare("SELECT 1 FROM accounts WHERE jid = ?").get(jid) !== undefined;
}

export function listAccounts(db: Database): string[] {
  return (db.prepare("SELECT jid FROM accounts ORDER BY jid").all() as { jid: string }[]).map((r) => r.jid);
}

export function isAccountError(err: unknown): err is AccountError {
  return err instanceof AccountError;
}
