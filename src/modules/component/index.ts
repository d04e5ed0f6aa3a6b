// XEP-0114 Jabber Component Protocol: an external program (a gateway, a bot,
// a push app server) connects to the server's component port, names the
// domain it serves, proves it holds that domain's shared secret with the
// handshake (§3: SHA-1 of the stream id and the secret, in hex), and from then
// on the router hands it every stanza to that domain, as it does to the
// in-process components (MUC, pubsub). What it sends must come from its domain
// (a subdomain of it included) and is routed like any local stanza.
//
// One connection per domain: a second one for a domain already connected is
// refused with `conflict`, as Prosody does, so the first keeps working. While
// none is connected, stanzas to the domain are answered service-unavailable.
// The stream is the s2s one (src/s2s/stream.ts) with jabber:component:accept
// content: the same parser limits, rate limit and commit-gated writes.
// https://xmpp.org/extensions/xep-0114.html
import net from "node:net";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { S2sStream, renamespace } from "../../s2s/stream.js";
import { escapeAttr } from "../../xml/serialize.js";
import { el } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { tryParseJid } from "../../jid/jid.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";

export const NS_COMPONENT = "jabber:component:accept";

/** §3: the handshake a component sends, lowercase hex. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash("sha1").update(streamId + secret, "utf8").digest("hex");
}

class ComponentStream extends S2sStream {
  protected override readonly contentNs: string = NS_COMPONENT;

  /** §3: the server's answer to the component's header: its domain, the stream id, no version (no features). */
  openComponentStream(domain: string, id: string): void {
    this.write(`<?xml version='1.0'?><stream:stream xmlns='${NS_COMPONENT}' xmlns:stream='${NS.stream}' from='${escapeAttr(domain)}' id='${escapeAttr(id)}'>`);
  }
}

function belongsTo(domain: string, of: string): boolean {
  return domain === of || domain.endsWith(`.${of}`);
}

export const component: ParleyModule = {
  name: "component",
  load(api: ModuleApi) {
    const c = api.config.components;
    if (c.components.length === 0) return;
    const secrets = new Map(c.components.map((x) => [x.domain, x.secret]));
    const connected = new Map<string, ComponentStream>();
    const open = new Set<ComponentStream>();
    const limits = api.config.limits;

    for (const { domain } of c.components) {
      api.component(domain, {
        accept(stanza) {
          const stream = connected.get(domain);
          if (stream && !stream.isClosed) stream.send(stanza);
          // §3 leaves it to the server; RFC 6120 §10.4.3: nobody serves the domain now.
          else api.bounce(stanza, { condition: "service-unavailable", text: `The component ${domain} is not connected` });
        },
      });
    }

    const accept = (socket: net.Socket) => {
      let domain: string | undefined;
      let authenticated = false;
      const id = randomBytes(12).toString("hex");
      const timer = setTimeout(() => { if (!authenticated) stream.fail("connection-timeout", "No handshake in time (XEP-0114 §3)"); }, limits.unauthenticatedTimeoutSeconds * 1000);
      timer.unref();
      const stream: ComponentStream = new ComponentStream(socket, {
        maxStanzaBytes: limits.maxStanzaBytes, maxDepth: limits.maxDepth,
        stanzasPerSecond: api.config.s2s.stanzasPerSecond, stanzaBurst: api.config.s2s.stanzaBurst,
        handshakeTimeoutMs: limits.unauthenticatedTimeoutSeconds * 1000,
      }, {
        header(attrs, info) {
          const to = (attrs.to ?? "").toLowerCase();
          stream.openComponentStream(to || "localhost", id);
          if (info.defaultNs !== NS_COMPONENT) return stream.fail("invalid-namespace", `A component stream is in ${NS_COMPONENT}`);
          if (!secrets.has(to)) return stream.fail("host-unknown", `No component ${to || "(no 'to')"} is configured here`);
          domain = to;
        },
        element(element) {
          if (!domain) return stream.fail("not-authorized", "The stream header comes first");
          if (!authenticated) {
            if (element.name !== "handshake" || element.ns !== NS_COMPONENT) return stream.fail("not-authorized", "The handshake comes first (XEP-0114 §3)");
            const expected = Buffer.from(handshakeDigest(id, secrets.get(domain) ?? ""));
            const given = Buffer.from(element.text().trim().toLowerCase());
            if (given.length !== expected.length || !timingSafeEqual(given, expected)) return stream.fail("not-authorized", "Wrong handshake");
            const previous = connected.get(domain);
            if (previous && !previous.isClosed) return stream.fail("conflict", `${domain} is already connected`);
            authenticated = true;
            clearTimeout(timer);
            connected.set(domain, stream);
            stream.send(el("handshake", NS.client));
            api.log.info("component connected", { domain, address: stream.remoteAddress });
            return;
          }
          if (element.ns !== NS_COMPONENT || !["message", "presence", "iq"].includes(element.name)) {
            return stream.fail("unsupported-stanza-type", `<${element.name}/> is not a stanza`);
          }
          const stanza = renamespace(element, NS_COMPONENT, NS.client);
          const from = tryParseJid(stanza.attrs.from ?? "");
          // RFC 6120 §4.9.3.9: a component speaks only for its own domain.
          if (!from || !belongsTo(from.domain, domain)) return stream.fail("invalid-from", `A stanza from ${domain} must have a 'from' at ${domain}`);
          if (stanza.attrs.to === undefined || stanza.attrs.to === "") {
            api.bounce(stanza, { condition: "bad-request", text: "A component's stanza needs a 'to'" }, domain);
            return;
          }
          api.route(stanza);
        },
        end() {
          stream.close();
        },
        error(condition, text) {
          stream.fail(condition, text);
        },
        closed() {
          clearTimeout(timer);
          open.delete(stream);
          if (domain && connected.get(domain) === stream) {
            connected.delete(domain);
            api.log.info("component disconnected", { domain });
          }
        },
      }, api.output);
      open.add(stream);
    };

    const server = net.createServer(accept);
    server.on("error", (err) => api.log.error("component listener failed", { error: err.message, port: c.port }));
    server.listen(c.port, c.host, () => {
      const address = server.address();
      api.log.info("component listener", { host: c.host, port: typeof address === "object" && address ? address.port : c.port });
    });
    api.hook("server-stopping", () => {
      for (const s of open) s.fail("system-shutdown", "The server is stopping");
      server.close();
    });
  },
};
