// XEP-0215 External Service Discovery: the STUN and TURN servers (and any
// other service) a client needs for calls, from the configuration, with
// time-limited TURN credentials derived from a shared secret the way
// coturn's REST API checks them (`use-auth-secret`): the username is the
// expiry time in Unix seconds (then ':' and the user), the password
// base64(HMAC-SHA1(secret, username)). Only the server's own users ask.
import { createHmac } from "node:crypto";
import { el, type XmlElement } from "../../xml/element.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { ExternalService, ExternalServicesConfig } from "../../config.js";
import type { HostIqRequest } from "../../kernel/events.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";

export const NS_EXTDISCO = "urn:xmpp:extdisco:2";

/** coturn's REST API credentials for `user`, valid until `expires`. */
export function turnCredentials(secret: string, user: string, expires: Date): { username: string; password: string } {
  const username = `${Math.floor(expires.getTime() / 1000)}:${user}`;
  return { username, password: createHmac("sha1", secret).update(username).digest("base64") };
}

function serviceElement(config: ExternalServicesConfig, s: ExternalService, user: string, now: Date): XmlElement | undefined {
  const host = s.host ?? config.host;
  if (host === undefined) return undefined; // nowhere to point the client
  const port = s.port ?? config.port;
  const attrs: Record<string, string | undefined> = {
    type: s.type, host, port: port === undefined ? undefined : String(port), transport: s.transport, name: s.name,
  };
  const secret = s.secret === true ? config.secret : s.secret;
  if (secret !== undefined) {
    const expires = new Date(now.getTime() + config.credentialSeconds * 1000);
    const { username, password } = turnCredentials(secret, user, expires);
    // No `expires` attribute (optional in §2): Prosody sends none, and its
    // extdisco.scs holds us to the same element. The expiry is in the username.
    Object.assign(attrs, { username, password, restricted: "1" });
  } else if (s.username !== undefined || s.password !== undefined) {
    Object.assign(attrs, { username: s.username, password: s.password, restricted: "1" });
  }
  return el("service", NS_EXTDISCO, attrs);
}

function localUserOnly(req: HostIqRequest): void {
  // §6: credentials are for the server's own users.
  if (req.from.local === "" || req.from.domain !== req.domain) {
    throw new StanzaError({ condition: "forbidden", text: "External services are offered to this server's users only" });
  }
}

export const externalServices: ParleyModule = {
  name: "external_services",
  load(api: ModuleApi) {
    const config = api.config.externalServices;
    api.hook("disco-info/host", (b) => { if (b.node === undefined && config.services.length > 0) b.features.add(NS_EXTDISCO); });
    const list = (req: HostIqRequest, keep: (s: ExternalService) => boolean): XmlElement[] => {
      const now = api.now();
      return config.services.filter(keep).flatMap((s) => serviceElement(config, s, req.from.local, now) ?? []);
    };
    // §3.1, §3.2: every service, or those of one type.
    api.iq("get", "host", NS_EXTDISCO, "services", (req) => {
      localUserOnly(req);
      const type = req.payload.attrs.type;
      return el("services", NS_EXTDISCO, {}, ...list(req, (s) => type === undefined || s.type === type));
    });
    // §3.3: fresh credentials for one service, named by host and type.
    api.iq("get", "host", NS_EXTDISCO, "credentials", (req) => {
      localUserOnly(req);
      const wanted = req.payload.getChild("service", NS_EXTDISCO);
      const host = wanted?.attrs.host;
      const type = wanted?.attrs.type;
      if (host === undefined || type === undefined) throw new StanzaError({ condition: "bad-request", text: "Name the service by its host and type" });
      const found = list(req, (s) => s.type === type && (s.host ?? config.host) === host);
      if (found.length === 0) throw new StanzaError({ condition: "item-not-found", text: `No ${type} service at ${host}` });
      return el("credentials", NS_EXTDISCO, {}, ...found);
    });
  },
};
