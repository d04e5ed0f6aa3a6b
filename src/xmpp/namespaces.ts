// Namespace URIs used across the server, named as the specs name them.
export const NS = {
  client: "jabber:client",
  stream: "http://etherx.jabber.org/streams",
  streams: "urn:ietf:params:xml:ns:xmpp-streams",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  sasl: "urn:ietf:params:xml:ns:xmpp-sasl",
  saslChannelBinding: "urn:xmpp:sasl-cb:0",
  tls: "urn:ietf:params:xml:ns:xmpp-tls",
  bind: "urn:ietf:params:xml:ns:xmpp-bind",
  session: "urn:ietf:params:xml:ns:xmpp-session",
  streamLimits: "urn:xmpp:stream-limits:0",
  roster: "jabber:iq:roster",
  rosterVer: "urn:xmpp:features:rosterver",
  preApproval: "urn:xmpp:features:pre-approval",
  discoInfo: "http://jabber.org/protocol/disco#info",
  discoItems: "http://jabber.org/protocol/disco#items",
  ping: "urn:xmpp:ping",
  version: "jabber:iq:version",
  delay: "urn:xmpp:delay",
  blocking: "urn:xmpp:blocking",
  register: "jabber:iq:register",
  registerFeature: "http://jabber.org/features/iq-register",
  blockingErrors: "urn:xmpp:blocking:errors",
  xml: "http://www.w3.org/XML/1998/namespace",
  /** XEP-0388 Extensible SASL Profile. */
  sasl2: "urn:xmpp:sasl:2",
  /** XEP-0386 Bind 2. */
  bind2: "urn:xmpp:bind:0",
  /** XEP-0484 Fast Authentication Streamlining Tokens. */
  fast: "urn:xmpp:fast:0",
} as const;
