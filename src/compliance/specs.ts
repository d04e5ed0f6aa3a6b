// Every specification `parley check features` and parley.doap speak of: what
// shows that a configuration provides it (conditions on the Capabilities a
// configuration has, capabilities.ts), the disco features it defines (so that
// every feature a server advertises belongs to one), and, for what Parley
// implements, the version implemented, as parley.doap lists it.
//
// Versions are the XSF's latest revision of each XEP (xsf/xeps, read 2026-06).
// A feature module that lands moves its spec: give it `implemented`, make sure
// its condition matches what the module advertises, and regenerate
// docs/compliance.md and parley.doap (`npm run compliance`).
import type { Capabilities, DomainCapabilities, ListenerName } from "./capabilities.js";

export type Condition =
  /** Built into the stream layer: no configuration switches it off. */
  | { readonly core: string }
  /** Listening, per the configuration. */
  | { readonly listener: ListenerName }
  /** Named in modules_enabled. */
  | { readonly module: string }
  /** Advertised in the disco#info of the domain or of an account (XEP-0030 §3). */
  | { readonly discoFeature: string; readonly scope: "host" | "account" }
  /** An identity in the disco#info of the domain or of an account. */
  | { readonly discoIdentity: { readonly category: string; readonly type: string }; readonly scope: "host" | "account" }
  /** A XEP-0128 form of that FORM_TYPE in the domain's disco#info. */
  | { readonly discoForm: string }
  /** A service in the domain's disco#items with this identity (and feature). */
  | { readonly service: { readonly category: string; readonly type: string; readonly feature?: string } }
  /** Offered among the stream features (RFC 6120 §4.3.2) by a module: "namespace name". */
  | { readonly streamFeature: string; readonly stage: "pre-auth" | "post-auth" }
  /** Nothing is asked of a server (the spec is between clients). */
  | { readonly clientsOnly: string };

/** DOAP's xmpp:status values (the xmpp-doap vocabulary Prosody and ejabberd use). */
export type DoapStatus = "complete" | "partial";

export interface Spec {
  readonly id: string;
  readonly title: string;
  readonly url: string;
  /** All of them must hold. */
  readonly provider: readonly Condition[];
  /** The disco features this spec defines, that a server or an account may advertise. */
  readonly features?: readonly string[];
  readonly implemented?: { readonly version?: string; readonly status: DoapStatus; readonly note: string };
}

const xep = (n: string) => `https://xmpp.org/extensions/xep-${n}.html`;
const rfc = (n: string) => `https://www.rfc-editor.org/info/rfc${n}`;

export const SPECS: readonly Spec[] = [
  // --- implemented ---
  { id: "RFC 6120", title: "XMPP: Core", url: rfc("6120"),
    provider: [{ core: "streams, STARTTLS, SASL, resource binding (src/actors/session-machine.ts)" }, { listener: "c2s-starttls" }],
    implemented: { status: "complete", note: "TCP with STARTTLS; SASL SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS), PLAIN; server-to-server streams (jabber:server, STARTTLS required by default, §3.2 resolution, src/s2s/) authenticated by SASL EXTERNAL with a verified certificate, else dialback" } },
  { id: "RFC 6121", title: "XMPP: Instant Messaging and Presence", url: rfc("6121"),
    provider: [{ module: "roster" }, { module: "presence" }], features: ["jabber:iq:roster"],
    implemented: { status: "complete", note: "rosters with versioning, subscriptions (Appendix A), pre-approval, message routing (§8.5); modules roster and presence" } },
  { id: "RFC 7395", title: "An XMPP Subprotocol for WebSocket", url: rfc("7395"),
    provider: [{ listener: "websocket" }],
    implemented: { status: "complete", note: "at /xmpp-websocket on the HTTP port" } },
  { id: "RFC 7590", title: "Use of TLS in XMPP", url: rfc("7590"),
    provider: [{ listener: "c2s-starttls" }],
    implemented: { status: "complete", note: "TLS 1.2 and 1.3 with Node's defaults" } },
  { id: "RFC 7622", title: "XMPP: Address Format", url: rfc("7622"),
    provider: [{ core: "JIDs prepared with PRECIS (src/jid)" }],
    implemented: { status: "complete", note: "PRECIS profiles of RFC 8265 and RFC 8264" } },
  { id: "RFC 4616", title: "The PLAIN SASL Mechanism", url: rfc("4616"),
    provider: [{ core: "SASL PLAIN, after TLS (src/sasl/plain.ts)" }],
    implemented: { status: "complete", note: "checked against the stored SCRAM keys; no password is stored" } },
  { id: "RFC 5802", title: "Salted Challenge Response Authentication Mechanism (SCRAM)", url: rfc("5802"),
    provider: [{ core: "SCRAM-SHA-1 and -PLUS (src/sasl/scram.ts)" }],
    implemented: { status: "complete", note: "the downgrade flag 'y' is refused while -PLUS is offered (§6)" } },
  { id: "RFC 7677", title: "SCRAM-SHA-256 and SCRAM-SHA-256-PLUS", url: rfc("7677"),
    provider: [{ core: "SCRAM-SHA-256 and -PLUS (src/sasl/scram.ts)" }],
    implemented: { status: "complete", note: "4096 PBKDF2 iterations by default" } },
  { id: "RFC 5929", title: "Channel Bindings for TLS (tls-server-end-point)", url: rfc("5929"),
    provider: [{ core: "tls-server-end-point on TLS connections" }],
    implemented: { status: "partial", note: "tls-server-end-point only; tls-unique is not offered" } },
  { id: "RFC 9266", title: "Channel Bindings for TLS 1.3 (tls-exporter)", url: rfc("9266"),
    provider: [{ core: "tls-exporter on TLS 1.3 connections" }],
    implemented: { status: "complete", note: "" } },
  { id: "XEP-0012", title: "Last Activity", url: xep("0012"),
    provider: [{ module: "last" }, { discoFeature: "jabber:iq:last", scope: "host" }], features: ["jabber:iq:last"],
    implemented: { version: "2.0", status: "complete", note: "module last: the server's uptime and an account's last logout" } },
  { id: "XEP-0030", title: "Service Discovery", url: xep("0030"),
    provider: [{ module: "disco" }, { discoFeature: "http://jabber.org/protocol/disco#info", scope: "host" }],
    features: ["http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items"],
    implemented: { version: "2.5.0", status: "complete", note: "module disco: the server and accounts; no nodes" } },
  { id: "XEP-0050", title: "Ad-Hoc Commands", url: xep("0050"),
    provider: [{ module: "adhoc" }, { discoFeature: "http://jabber.org/protocol/commands", scope: "host" }], features: ["http://jabber.org/protocol/commands"],
    implemented: { version: "1.3.0", status: "complete", note: "module adhoc: commands of the server's domain in disco#items of the commands node, execute/complete/cancel with session ids, XEP-0004 forms; sessions bounded and expiring" } },
  { id: "XEP-0077", title: "In-Band Registration", url: xep("0077"),
    provider: [{ module: "register" }, { discoFeature: "jabber:iq:register", scope: "host" }], features: ["jabber:iq:register"],
    implemented: { version: "2.4", status: "complete", note: "module register: registration when registration.allowed (off by default), password change, cancellation" } },
  { id: "XEP-0092", title: "Software Version", url: xep("0092"),
    provider: [{ module: "version" }, { discoFeature: "jabber:iq:version", scope: "host" }], features: ["jabber:iq:version"],
    implemented: { version: "1.1", status: "complete", note: "module version" } },
  { id: "XEP-0128", title: "Service Discovery Extensions", url: xep("0128"),
    provider: [{ discoForm: "http://jabber.org/network/serverinfo" }],
    implemented: { version: "1.0.1", status: "complete", note: "the XEP-0157 form in the server's disco#info" } },
  { id: "XEP-0133", title: "Service Administration", url: xep("0133"),
    provider: [{ module: "admin_adhoc" }, { module: "adhoc" }],
    implemented: { status: "partial", note: "module admin_adhoc, for the configured admins: add-user, delete-user, change-user-password, get-online-users-list, end-user-session, announce" } },
  { id: "XEP-0157", title: "Contact Addresses for XMPP Services", url: xep("0157"),
    provider: [{ module: "contact_addresses" }, { discoForm: "http://jabber.org/network/serverinfo" }],
    implemented: { version: "1.1.1", status: "complete", note: "module contact_addresses, from [contact_addresses] in the configuration" } },
  { id: "XEP-0160", title: "Best Practices for Handling Offline Messages", url: xep("0160"),
    provider: [{ module: "offline" }],
    implemented: { version: "1.0.1", status: "complete", note: "module offline: stored with a delay stamp, capped per user, per sender and in bytes" } },
  { id: "XEP-0191", title: "Blocking Command", url: xep("0191"),
    provider: [{ module: "blocking" }, { discoFeature: "urn:xmpp:blocking", scope: "host" }], features: ["urn:xmpp:blocking"],
    implemented: { version: "1.3", status: "complete", note: "module blocking" } },
  { id: "XEP-0199", title: "XMPP Ping", url: xep("0199"),
    provider: [{ module: "ping" }, { discoFeature: "urn:xmpp:ping", scope: "host" }], features: ["urn:xmpp:ping"],
    implemented: { version: "2.0.1", status: "complete", note: "module ping: answers pings; the server does not ping clients" } },
  { id: "XEP-0202", title: "Entity Time", url: xep("0202"),
    provider: [{ module: "time" }, { discoFeature: "urn:xmpp:time", scope: "host" }], features: ["urn:xmpp:time"],
    implemented: { version: "2.0", status: "complete", note: "module time" } },
  { id: "XEP-0203", title: "Delayed Delivery", url: xep("0203"),
    provider: [{ module: "offline" }],
    implemented: { version: "2.0", status: "complete", note: "stamps on offline messages; client-written stamps claiming this server are removed" } },
  { id: "XEP-0368", title: "SRV records for XMPP over TLS", url: xep("0368"),
    provider: [{ listener: "c2s-direct-tls" }],
    implemented: { version: "1.1.0", status: "complete", note: "Direct TLS with ALPN xmpp-client; outgoing s2s tries _xmpps-server._tcp (Direct TLS, ALPN xmpp-server) before _xmpp-server._tcp; an s2s Direct TLS listener with [s2s] direct_tls_port" } },
  { id: "XEP-0220", title: "Server Dialback", url: xep("0220"),
    provider: [{ listener: "s2s" }],
    implemented: { version: "1.1.1", status: "complete", note: "db:result and db:verify both ways, with dialback errors (§2.4, the urn:xmpp:features:dialback feature), only after TLS unless the domain is in s2s.insecure_domains; src/s2s/" } },
  { id: "XEP-0178", title: "Best Practices for Use of SASL EXTERNAL with Certificates", url: xep("0178"),
    provider: [{ listener: "s2s" }],
    implemented: { version: "1.2", status: "partial", note: "server-to-server only: offered when the peer's certificate chains to s2s.ca_file (else Node's roots) and names its domain (DNS-ID; no xmppAddr); used on outgoing streams when offered" } },
  { id: "XEP-0185", title: "Dialback Key Generation and Validation", url: xep("0185"),
    provider: [{ listener: "s2s" }],
    implemented: { version: "1.0", status: "complete", note: "HMAC-SHA256(SHA256(secret), receiving originating stream-id), the secret kept in server_secrets" } },
  { id: "XEP-0386", title: "Bind 2", url: xep("0386"),
    provider: [{ core: "<bind xmlns='urn:xmpp:bind:0'/> inline in SASL2's <authentication/> (src/actors/session-machine.ts, bind2/inline hook)" }],
    implemented: { status: "complete", note: "resource <tag>.<hash of the user-agent id>, stable per device; carbons (module carbons) and XEP-0198 stream management enabled inline; the bind2/features and bind2/inline hooks for other modules" } },
  { id: "XEP-0388", title: "Extensible SASL Profile", url: xep("0388"),
    provider: [{ core: "<authentication xmlns='urn:xmpp:sasl:2'/> beside <mechanisms/> (src/actors/session-machine.ts, state sasl2)" }],
    implemented: { version: "1.0.4", status: "complete", note: "every classic mechanism, <user-agent/>, challenges and responses, <authorization-identifier/>, no stream restart; no <continue/> tasks" } },
  { id: "XEP-0440", title: "SASL Channel-Binding Type Capability", url: xep("0440"),
    provider: [{ core: "<sasl-channel-binding/> beside the mechanisms on TLS (src/xmpp/stream-features.ts)" }, { listener: "c2s-starttls" }],
    implemented: { version: "1.0.0", status: "complete", note: "tls-exporter (TLS 1.3) and tls-server-end-point" } },
  { id: "XEP-0484", title: "Fast Authentication Streamlining Tokens", url: xep("0484"),
    provider: [{ core: "<fast xmlns='urn:xmpp:fast:0'/> inline in SASL2 (src/sasl/ht.ts, src/sasl/fast-tokens.ts)" }],
    implemented: { version: "0.2.0", status: "complete", note: "HT-SHA-256-NONE, -ENDP and -EXPR (where TLS gives the binding); tokens per user agent, rotation, invalidate, revoked by a password change; [fast] in the configuration; no 0-RTT count check" } },
  { id: "XEP-0478", title: "Stream Limits Advertisement", url: xep("0478"),
    provider: [{ core: "<limits/> in the stream features (src/xmpp/stream-features.ts)" }],
    implemented: { version: "0.2.0", status: "complete", note: "max-bytes and idle-seconds" } },

  // --- what the feature issues add: how each will show (those provided now carry `implemented`) ---
  { id: "XEP-0045", title: "Multi-User Chat", url: xep("0045"),
    provider: [{ service: { category: "conference", type: "text" } }], features: ["http://jabber.org/protocol/muc"],
    implemented: { version: "1.35.1", status: "partial", note: "module muc at conference.<domain>: rooms as event streams, roles, affiliations, bans, registration, passwords, members-only, moderated, history, invitations, room archives (XEP-0313)" } },
  { id: "XEP-0048", title: "Bookmarks", url: xep("0048"),
    provider: [{ discoFeature: "jabber:iq:private", scope: "host" }],
    implemented: { status: "complete", note: "module private: storage:bookmarks in private storage and on PEP, both kept in step with XEP-0402 PEP bookmarks" } },
  { id: "XEP-0049", title: "Private XML Storage", url: xep("0049"),
    provider: [{ discoFeature: "jabber:iq:private", scope: "host" }], features: ["jabber:iq:private"],
    implemented: { status: "complete", note: "module private: one element per namespace, bounded by [pubsub] max_private_bytes and max_private_elements" } },
  { id: "XEP-0054", title: "vcard-temp", url: xep("0054"),
    provider: [{ discoFeature: "vcard-temp", scope: "host" }], features: ["vcard-temp"],
    implemented: { status: "complete", note: "module vcard: the user's own vCard, readable by anyone at its bare JID, bounded by [pubsub] max_vcard_bytes" } },
  { id: "XEP-0114", title: "Jabber Component Protocol", url: xep("0114"),
    provider: [{ listener: "component" }],
    implemented: { version: "1.6", status: "complete", note: "module component: jabber:component:accept on [components] port (5347, loopback) once a component is configured; the §3 handshake, one connection per domain, 'from' held to the component's domain, service-unavailable while it is away" } },
  { id: "XEP-0115", title: "Entity Capabilities", url: xep("0115"),
    provider: [{ streamFeature: "http://jabber.org/protocol/caps c", stage: "pre-auth" }], features: ["http://jabber.org/protocol/caps"],
    implemented: { version: "1.6.0", status: "complete", note: "module disco: the server's caps (sha-1 over the domain's disco#info) in its stream features (§6.3); module pubsub: clients' caps verified and cached for PEP's +notify" } },
  { id: "XEP-0124", title: "Bidirectional-streams Over Synchronous HTTP (BOSH)", url: xep("0124"),
    provider: [{ listener: "bosh" }],
    implemented: { version: "1.11.2", status: "partial", note: "at /http-bind on the HTTP port: wait, hold, requests, inactivity, polling, rid order and replay, terminate, pause (maxpause), acknowledgements with report; no multiple streams per session" } },
  { id: "XEP-0153", title: "vCard-Based Avatars", url: xep("0153"),
    provider: [{ discoFeature: "vcard-temp", scope: "host" }],
    implemented: { status: "complete", note: "module vcard: the photo's hash (or an empty photo) in the user's available presence when the client announces none, kept in step with the PEP avatar (XEP-0398)" } },
  { id: "XEP-0156", title: "Discovering Alternative XMPP Connection Methods", url: xep("0156"),
    provider: [{ listener: "host-meta" }],
    implemented: { version: "1.4.0", status: "complete", note: "/.well-known/host-meta (XRD) and host-meta.json on the HTTP port, with CORS; DNS TXT records are the operator's" } },
  { id: "XEP-0163", title: "Personal Eventing Protocol", url: xep("0163"),
    provider: [{ discoIdentity: { category: "pubsub", type: "pep" }, scope: "account" }],
    features: ["http://jabber.org/protocol/pubsub", ...["publish", "auto-create", "retrieve-items", "retract-items", "subscribe", "config-node", "delete-nodes",
      "purge-nodes", "access-presence", "access-open", "access-whitelist", "item-ids", "last-published", "multi-items", "modify-affiliations",
      "auto-subscribe", "filtered-notifications", "access-roster"]
      .map((f) => `http://jabber.org/protocol/pubsub#${f}`)],
    implemented: { version: "1.2.2", status: "complete", note: "module pubsub: PEP on every account, auto-create and publish-options, +notify from XEP-0115 caps (hashes verified and cached; contacts at other servers asked over s2s), last items to a resource that announces interest; access models open, presence, roster (groups) and whitelist" } },
  { id: "XEP-0060", title: "Publish-Subscribe", url: xep("0060"),
    provider: [{ service: { category: "pubsub", type: "service" } }],
    implemented: { status: "partial", note: "module pubsub at pubsub.<domain>: nodes, items, affiliations, subscriptions, node configuration as events, publish-options, instant nodes; no collections, subscription options or the authorize access model" } },
  { id: "XEP-0198", title: "Stream Management", url: xep("0198"),
    provider: [{ module: "stream_management" }, { streamFeature: "urn:xmpp:sm:3 sm", stage: "post-auth" }],
    implemented: { version: "1.6.1", status: "complete", note: "module stream_management: acks both ways, resumption within [stream_management] timeout_seconds (600, the advertised max) with the queue resent in order; unacknowledged messages of an expired stream go to offline storage" } },
  { id: "XEP-0206", title: "XMPP Over BOSH", url: xep("0206"),
    provider: [{ listener: "bosh" }],
    implemented: { version: "1.4", status: "complete", note: "the same session machine as TCP and WebSocket; xmpp:restart after SASL, stream errors as remote-stream-error" } },
  { id: "XEP-0215", title: "External Service Discovery", url: xep("0215"),
    provider: [{ module: "external_services" }], features: ["urn:xmpp:extdisco:2"],
    implemented: { version: "1.0.0", status: "complete", note: "module external_services, from [external_services] in the configuration; TURN credentials for coturn's use-auth-secret; the feature is advertised once a service is configured" } },
  { id: "XEP-0223", title: "Persistent Storage of Private Data via PubSub", url: xep("0223"),
    provider: [{ discoFeature: "http://jabber.org/protocol/pubsub#publish-options", scope: "account" }],
    features: ["http://jabber.org/protocol/pubsub#publish-options"],
    implemented: { status: "complete", note: "module pubsub: publish-options with access_model whitelist and persist_items on PEP nodes, checked as preconditions" } },
  { id: "XEP-0249", title: "Direct MUC Invitations", url: xep("0249"),
    provider: [{ clientsOnly: "an invitation is a message between clients; routing it (RFC 6121 §8) is all a server does" }] },
  { id: "XEP-0280", title: "Message Carbons", url: xep("0280"),
    provider: [{ module: "carbons" }, { discoFeature: "urn:xmpp:carbons:2", scope: "host" }], features: ["urn:xmpp:carbons:2", "urn:xmpp:carbons:rules:0"],
    implemented: { version: "1.0.1", status: "complete", note: "module carbons: sent and received copies, §6.1 rules, private and no-copy" } },
  { id: "XEP-0313", title: "Message Archive Management", url: xep("0313"),
    provider: [{ module: "mam" }, { discoFeature: "urn:xmpp:mam:2", scope: "account" }], features: ["urn:xmpp:mam:2", "urn:xmpp:mam:2#extended"],
    implemented: { version: "1.1.0", status: "complete", note: "module mam: per-user archives, filters, RSM both ways, flip-page, #extended metadata, preferences, retention; full-text search with mam.fulltext" } },
  { id: "XEP-0359", title: "Unique and Stable Stanza IDs", url: xep("0359"),
    provider: [{ module: "mam" }, { discoFeature: "urn:xmpp:sid:0", scope: "account" }], features: ["urn:xmpp:sid:0"],
    implemented: { version: "0.7.0", status: "complete", note: "module mam: the archive's stanza-id on delivered messages, forged ones removed, origin-id kept" } },
  { id: "XEP-0313 (MUC)", title: "Message Archive Management of group chats", url: xep("0313"),
    provider: [{ service: { category: "conference", type: "text", feature: "urn:xmpp:mam:2" } }],
    implemented: { version: "1.1.0", status: "complete", note: "module muc with [muc] archive: each room's archive, stanza-ids by the room, queries as for accounts; members-only rooms' archives for the affiliated" } },
  { id: "XEP-0352", title: "Client State Indication", url: xep("0352"),
    provider: [{ module: "csi" }, { streamFeature: "urn:xmpp:csi:0 csi", stage: "post-auth" }],
    implemented: { version: "1.1.0", status: "complete", note: "module csi: while inactive, presence held (the latest per contact) and chat states delayed; important stanzas flush, at most [stream_management] csi_max_queue held" } },
  { id: "XEP-0357", title: "Push Notifications", url: xep("0357"),
    provider: [{ discoFeature: "urn:xmpp:push:0", scope: "account" }], features: ["urn:xmpp:push:0"],
    implemented: { version: "0.4.1", status: "complete", note: "module push: registrations as events (push:<jid>), the summary form published to the app server's node while the device's stream is detached (XEP-0198) or gone; no body or sender unless [push] allows; a registration dropped after max_errors refusals" } },
  { id: "XEP-0363", title: "HTTP File Upload", url: xep("0363"),
    provider: [{ service: { category: "store", type: "file", feature: "urn:xmpp:http:upload:0" } }], features: ["urn:xmpp:http:upload:0"],
    implemented: { version: "1.2.0", status: "complete", note: "module http_upload: a component at upload.<domain>, files served by the HTTP listener; size, quota, type and rate limits from [upload], expiry, files removed with their account" } },
  { id: "XEP-0398", title: "User Avatar to vCard-Based Avatars Conversion", url: xep("0398"),
    provider: [{ discoFeature: "urn:xmpp:pep-vcard-conversion:0", scope: "account" }], features: ["urn:xmpp:pep-vcard-conversion:0"],
    implemented: { status: "complete", note: "modules vcard and pubsub: a vCard photo published as the XEP-0084 avatar (data, then metadata), an avatar published on PEP copied into the vCard" } },
  { id: "XEP-0402", title: "PEP Native Bookmarks", url: xep("0402"),
    provider: [{ discoFeature: "urn:xmpp:bookmarks:1#compat", scope: "account" }], features: ["urn:xmpp:bookmarks:1#compat"],
    implemented: { status: "complete", note: "modules pubsub and private: bookmarks on PEP with the §3 publish-options, kept in step with XEP-0048 private storage (#compat)" } },
  { id: "XEP-0425", title: "Moderated Message Retraction", url: xep("0425"),
    provider: [{ service: { category: "conference", type: "text", feature: "urn:xmpp:message-moderate:1" } }],
    implemented: { version: "0.3.0", status: "complete", note: "module muc with [muc] archive: a moderator's retraction leaves a tombstone in the room's archive and tells every occupant" } },
  { id: "XEP-0421", title: "Anonymous unique occupant identifiers for MUCs", url: xep("0421"),
    provider: [{ service: { category: "conference", type: "text", feature: "urn:xmpp:occupant-id:0" } }],
    implemented: { version: "0.3.0", status: "complete", note: "module muc: on presence, groupchat and private messages, an HMAC of room and bare JID under a server secret" } },
  { id: "XEP-0410", title: "MUC Self-Ping (Schrödinger's Chat)", url: xep("0410"),
    provider: [{ service: { category: "conference", type: "text", feature: "http://jabber.org/protocol/muc#self-ping-optimization" } }],
    implemented: { version: "0.1.0", status: "complete", note: "module muc: a joined session's ping to its own occupant JID is answered by the room" } },
];

export function specById(id: string): Spec {
  const spec = SPECS.find((s) => s.id === id);
  if (!spec) throw new Error(`no specification '${id}' in src/compliance/specs.ts`);
  return spec;
}

/** Whether a condition holds for one domain, and the evidence either way, in words. */
export function evaluateCondition(c: Condition, caps: Capabilities, domain: DomainCapabilities): { holds: boolean; evidence: string } {
  if ("core" in c) return { holds: true, evidence: c.core };
  if ("clientsOnly" in c) return { holds: true, evidence: c.clientsOnly };
  if ("listener" in c) {
    const at = caps.listeners[c.listener];
    return at !== undefined ? { holds: true, evidence: `${c.listener} listener on ${at}` } : { holds: false, evidence: `no ${c.listener} listener` };
  }
  if ("module" in c) {
    return caps.modules.includes(c.module)
      ? { holds: true, evidence: `module ${c.module}` }
      : { holds: false, evidence: `module ${c.module} not in modules_enabled` };
  }
  if ("discoFeature" in c) {
    const info = c.scope === "host" ? domain.host : domain.account;
    return { holds: info.features.has(c.discoFeature), evidence: `${c.discoFeature} ${info.features.has(c.discoFeature) ? "in" : "not in"} the ${c.scope === "host" ? "domain's" : "accounts'"} disco#info` };
  }
  if ("discoIdentity" in c) {
    const info = c.scope === "host" ? domain.host : domain.account;
    const found = info.identities.some((i) => i.category === c.discoIdentity.category && i.type === c.discoIdentity.type);
    return { holds: found, evidence: `identity ${c.discoIdentity.category}/${c.discoIdentity.type} ${found ? "in" : "not in"} the ${c.scope === "host" ? "domain's" : "accounts'"} disco#info` };
  }
  if ("discoForm" in c) {
    const found = domain.host.forms.includes(c.discoForm);
    return { holds: found, evidence: `${c.discoForm} form ${found ? "in" : "not in"} the domain's disco#info` };
  }
  if ("service" in c) {
    const { category, type, feature } = c.service;
    const item = domain.items.find((i) => i.identities.some((id) => id.category === category && id.type === type) &&
      (feature === undefined || i.features.has(feature)));
    const what = `${category}/${type} service${feature ? ` with ${feature}` : ""}`;
    return item ? { holds: true, evidence: `${what}: ${item.jid}` } : { holds: false, evidence: `no ${what} in the domain's disco#items` };
  }
  const offered = (c.stage === "pre-auth" ? caps.streamFeatures.preAuth : caps.streamFeatures.postAuth).includes(c.streamFeature);
  return { holds: offered, evidence: `stream feature ${c.streamFeature} ${offered ? "offered" : "not offered"} ${c.stage}` };
}

/** A spec is provided where all its conditions hold. */
export function evaluateSpec(spec: Spec, caps: Capabilities, domain: DomainCapabilities): { provided: boolean; evidence: string[] } {
  const results = spec.provider.map((c) => evaluateCondition(c, caps, domain));
  const provided = results.every((r) => r.holds);
  return { provided, evidence: results.filter((r) => r.holds === provided).map((r) => r.evidence) };
}
