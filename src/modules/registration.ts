// XEP-0077 In-Band Registration: creating an account before authentication
// (only when the operator allows it), and changing one's password or
// cancelling one's account once logged in. Both end as account events.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { StanzaError, errorReply } from "../xmpp/errors.js";
import { tryParseJid } from "../jid/jid.js";
import type { Host } from "../server/host.js";
import type { EventStore } from "../events/store.js";
import { registerAccount, changePassword, deleteAccount, AccountError } from "../accounts/account-service.js";

function fields(query: XmlElement): { username?: string; password?: string; remove: boolean } {
  return {
    username: query.getChildText("username", NS.register),
    password: query.getChildText("password", NS.register),
    remove: query.getChild("remove", NS.register) !== undefined,
  };
}

/** The form a client fills in (XEP-0077 §3.1). */
function registrationForm(): XmlElement {
  return el("query", NS.register, {},
    el("instructions", NS.register, {}, "Choose a username and password for use with this service."),
    el("username", NS.register), el("password", NS.register));
}

export interface RegistrationDeps {
  readonly store: EventStore;
  readonly allowed: boolean;
  iterations: number;
  /** Accounts one remote address may create per hour (registration flood control). */
  readonly perAddressPerHour: number;
  /** Creation times per address within the last hour. */
  readonly recent: Map<string, number[]>;
}

/** Whether this address may register once more now; records the attempt when it may. */
function admitRegistration(deps: RegistrationDeps, address: string, now = Date.now()): boolean {
  const hourAgo = now - 3_600_000;
  const times = (deps.recent.get(address) ?? []).filter((t) => t > hourAgo);
  if (times.length >= deps.perAddressPerHour) {
    deps.recent.set(address, times);
    return false;
  }
  times.push(now);
  deps.recent.set(address, times);
  // Bounded memory: forget the oldest addresses under a flood of many.
  if (deps.recent.size > 100_000) {
    const oldest = deps.recent.keys().next().value;
    if (oldest !== undefined) deps.recent.delete(oldest);
  }
  return true;
}

/**
 * An IQ in the jabber:iq:register namespace before authentication. Returns
 * the reply to send on the stream.
 */
export function preAuthRegistration(deps: RegistrationDeps, domain: string, iq: XmlElement, address: string): XmlElement {
  const query = iq.getChild("query", NS.register);
  const fail = (condition: "service-unavailable" | "bad-request" | "not-acceptable" | "conflict" | "resource-constraint", text?: string) =>
    errorReply(iq, { condition, text }, domain);
  if (!deps.allowed || !query) return fail("service-unavailable", "In-band registration is not enabled on this server");
  if (iq.attrs.type === "get") return el("iq", NS.client, { type: "result", id: iq.attrs.id }, registrationForm());
  if (iq.attrs.type !== "set") return fail("bad-request");
  const { username, password } = fields(query);
  if (!username || !password) return fail("not-acceptable", "Both a username and a password are required");
  const jid = tryParseJid(`${username}@${domain}`);
  if (!jid || jid.resource !== "") return fail("not-acceptable", `'${username}' is not a valid username`);
  if (!admitRegistration(deps, address)) {
    return fail("resource-constraint", `At most ${deps.perAddressPerHour} accounts per hour may be registered from one address`);
  }
  try {
    registerAccount(deps.store, jid.bareString(), password, { kind: "server", reason: "in-band registration (XEP-0077)" }, deps.iterations);
  } catch (err) {
    if (err instanceof AccountError && err.code === "exists") return fail("conflict", `${jid.bareString()} is already taken`);
    throw err;
  }
  return el("iq", NS.client, { type: "result", id: iq.attrs.id });
}

/** After login: the registration form shows the account; a set changes the password or (with <remove/>) deletes it. */
export function installRegistration(host: Host, deps: RegistrationDeps): void {
  if (deps.allowed) host.iq.addFeature("server", NS.register);
  host.iq.onAccount("get", NS.register, "query", (ctx) => {
    if (!ctx.self) throw new StanzaError({ condition: "service-unavailable" });
    return el("query", NS.register, {}, el("registered", NS.register), el("username", NS.register, {}, ctx.runtime.jid.local));
  });
  host.iq.onAccount("set", NS.register, "query", (ctx, _iq, query) => {
    if (!ctx.self) throw new StanzaError({ condition: "service-unavailable" });
    const account = ctx.runtime.bareJid;
    const by = { kind: "user" as const, resource: ctx.requester.resource };
    const { username, password, remove } = fields(query);
    if (remove) {
      // XEP-0077 §3.2: the result first, then the account (and its sessions) go.
      ctx.afterReply(() => deleteAccount(deps.store, account, by, "cancelled by the user (XEP-0077)"));
      return null;
    }
    // XEP-0077 §3.3: a password change names the account's own username.
    if (username === undefined || password === undefined || password === "") {
      throw new StanzaError({ condition: "bad-request", text: "A password change needs the username and the new password" });
    }
    if (username.toLowerCase() !== ctx.runtime.jid.local) throw new StanzaError({ condition: "not-authorized", text: "You can only change your own password" });
    changePassword(deps.store, account, password, by, deps.iterations);
    return null;
  });
}
