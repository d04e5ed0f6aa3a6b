// XEP-0077 In-Band Registration: creating an account before authentication
// (only when the operator allows it), and changing one's password or
// cancelling one's account once logged in. Both end as events on the
// account's stream; after login they go through the account's actor, the
// single writer of that stream, and key derivations run off the event loop.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError, errorReply } from "../../xmpp/errors.js";
import { tryParseJid } from "../../jid/jid.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { AccountIqRequest } from "../../kernel/events.js";
import type { EventStore } from "../../events/store.js";
import { registerAccount, AccountError, credentialsForAsync } from "../../accounts/account-service.js";
import { passwordTooShort } from "../../config.js";

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

/** Creation times per address within the last hour (registration flood control). */
class RegistrationThrottle {
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly perAddressPerHour: number) {}

  /** Whether this address may register once more now; records the attempt when it may. */
  admit(address: string, now = Date.now()): boolean {
    const hourAgo = now - 3_600_000;
    const times = (this.recent.get(address) ?? []).filter((t) => t > hourAgo);
    if (times.length >= this.perAddressPerHour) {
      this.recent.set(address, times);
      return false;
    }
    times.push(now);
    this.recent.set(address, times);
    // Bounded memory: forget the oldest addresses under a flood of many.
    if (this.recent.size > 100_000) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
    return true;
  }
}

type Failure = "service-unavailable" | "bad-request" | "not-acceptable" | "conflict" | "resource-constraint";

/** An IQ in jabber:iq:register before authentication: the reply to send on the stream. */
function preAuthRegistration(api: ModuleApi, store: EventStore, throttle: RegistrationThrottle, domain: string, iq: XmlElement, address: string): XmlElement {
  const query = iq.getChild("query", NS.register);
  const fail = (condition: Failure, text?: string) => errorReply(iq, { condition, text }, domain);
  const { allowed, perAddressPerHour } = api.config.registration;
  if (!allowed || !query) return fail("service-unavailable", "In-band registration is not enabled on this server");
  if (iq.attrs.type === "get") return el("iq", NS.client, { type: "result", id: iq.attrs.id }, registrationForm());
  if (iq.attrs.type !== "set") return fail("bad-request");
  const { username, password } = fields(query);
  if (!username || !password) return fail("not-acceptable", "Both a username and a password are required");
  const jid = tryParseJid(`${username}@${domain}`);
  if (!jid || jid.resource !== "") return fail("not-acceptable", `'${username}' is not a valid username`);
  const short = passwordTooShort(api.config, password);
  if (short !== undefined) return fail("not-acceptable", `Choose a longer password: ${short}`);
  if (!throttle.admit(address)) {
    return fail("resource-constraint", `At most ${perAddressPerHour} accounts per hour may be registered from one address`);
  }
  let refusal: string | undefined;
  api.fire("user-registering", { jid, refuse: (reason) => { refusal ??= reason; } });
  if (refusal !== undefined) return fail("conflict", refusal);
  try {
    registerAccount(store, jid.bareString(), password, { kind: "server", reason: "in-band registration (XEP-0077)" }, api.config.scramIterations);
  } catch (err) {
    if (err instanceof AccountError && err.code === "exists") return fail("conflict", `${jid.bareString()} is already taken`);
    throw err;
  }
  return el("iq", NS.client, { type: "result", id: iq.attrs.id });
}

/** After login: a set changes the password or (with <remove/>) deletes the account. */
function accountSet(api: ModuleApi) {
  return async (req: AccountIqRequest): Promise<null> => {
    const { account } = req;
    const by = { kind: "user" as const, resource: req.from.resource };
    const { username, password, remove } = fields(req.payload);
    if (remove) {
      // XEP-0077 §3.2: the result first, then the account (and its sessions) go.
      req.afterReply(() => api.accounts.carryOut(account,
        api.accounts.execute(account, { kind: "delete", reason: "cancelled by the user (XEP-0077)" }, by)));
      return null;
    }
    // XEP-0077 §3.3: a password change names the account's own username.
    if (username === undefined || password === undefined || password === "") {
      throw new StanzaError({ condition: "bad-request", text: "A password change needs the username and the new password" });
    }
    if (username.toLowerCase() !== account.jid.local) throw new StanzaError({ condition: "not-authorized", text: "You can only change your own password" });
    const short = passwordTooShort(api.config, password);
    if (short !== undefined) throw new StanzaError({ condition: "not-acceptable", text: `Choose a longer password: ${short}` });
    // PBKDF2 on the thread pool; the event is appended when the actor's turn comes.
    const credentials = await credentialsForAsync(password, api.config.scramIterations);
    await new Promise<void>((resolve, reject) => api.accounts.later(account, () => {
      try {
        api.accounts.execute(account, { kind: "password.change", credentials }, by);
        resolve();
      } catch (err) {
        reject(err);
      }
    }));
    return null;
  };
}

/** The event store for pre-authentication registration, which no account actor owns yet. */
export function registration(store: EventStore): ParleyModule {
  return {
    name: "register",
    load(api) {
      const throttle = new RegistrationThrottle(api.config.registration.perAddressPerHour);
      if (api.config.registration.allowed) api.addFeature("host", NS.register);
      // XEP-0077 §4: registration is offered where authentication would be.
      api.hook("stream-features", ({ stage, authenticating, features }) => {
        if (stage === "pre-auth" && authenticating && api.config.registration.allowed) features.push(el("register", NS.registerFeature));
      });
      api.hook("pre-auth/register", ({ domain, iq, address, respond }) => {
        respond(preAuthRegistration(api, store, throttle, domain, iq, address));
      });
      api.iq("get", "self", NS.register, "query", (req) =>
        el("query", NS.register, {}, el("registered", NS.register), el("username", NS.register, {}, req.account.jid.local)));
      api.iq("set", "self", NS.register, "query", accountSet(api));
      // XEP-0077 §3.2, §3.3 address cancellation and password changes to the
      // server (to='example.org'): from a logged-in user of that domain they
      // are the user's own requests.
      api.hook("pre-iq/host", ({ stanza, to, account, from }) => {
        if (to.domain !== account.jid.domain || stanza.getChildren().length !== 1 || !stanza.getChild("query", NS.register)) return;
        api.answerAsSelf(account, stanza, from);
        return HANDLED;
      });
    },
  };
}
