"""A real XMPP client, slixmpp (Debian's python3-slixmpp), against a Parley
server: the subscription handshake both ways, messages, XEP-0191 block and
unblock, and the block-list push to a second resource.

Usage: python3 slixmpp_scenario.py HOST PORT
Prints one line per step; exits 0 when every step passed.
"""
import asyncio
import ssl
import sys

from slixmpp import ClientXMPP

HOST, PORT = sys.argv[1], int(sys.argv[2])
TIMEOUT = 10


def make(jid: str, password: str) -> ClientXMPP:
    # Plain SCRAM: see the note on channel binding below.
    client = ClientXMPP(jid, password, sasl_mech="SCRAM-SHA-1")
    # The test server's certificate is self-signed.
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE
    for plugin in ("xep_0030", "xep_0191", "xep_0199"):
        client.register_plugin(plugin)
    client.roster.auto_authorize = True
    client.roster.auto_subscribe = True
    # slixmpp 1.8 binds only with tls-unique, which does not exist under TLS 1.3
    # (RFC 9266); Parley offers tls-exporter and tls-server-end-point, and rightly
    # refuses both "p=tls-unique" and the downgrade flag "y". So this client runs
    # SCRAM-SHA-1 without channel binding, as a client without it would.
    mechanisms = client.plugin["feature_mechanisms"]
    default_credentials = mechanisms.sasl_callback

    def without_channel_binding(required, optional):
        credentials = default_credentials(required, optional)
        if "channel_binding" in credentials:
            credentials["channel_binding"] = None
        return credentials

    mechanisms.sasl_callback = without_channel_binding
    return client


async def online(client: ClientXMPP) -> ClientXMPP:
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    client.add_event_handler("failed_auth", lambda _: started.done() or started.set_exception(RuntimeError("authentication failed")))
    client.connect((HOST, PORT))
    await asyncio.wait_for(started, TIMEOUT)
    await client.get_roster()
    client.send_presence()
    return client


async def until(predicate, what: str) -> None:
    for _ in range(TIMEOUT * 20):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def step(name: str) -> None:
    print(f"OK {name}", flush=True)


async def main() -> None:
    alice = await online(make("alice@localhost/laptop", "wonderland"))
    alice_phone = await online(make("alice@localhost/phone", "wonderland"))
    bob = await online(make("bob@localhost/desk", "bob the builder"))
    step("three sessions online over STARTTLS")

    # Subscription handshake: alice asks, bob's client approves and asks back, alice's approves.
    alice.send_presence_subscription(pto="bob@localhost")
    await until(lambda: alice.client_roster["bob@localhost"]["subscription"] == "both"
                and bob.client_roster["alice@localhost"]["subscription"] == "both", "both subscriptions")
    # A roster get without a version, so the server answers with the whole roster
    # (with slixmpp's stored version it would rightly answer "nothing new", RFC 6121 §2.6.3).
    server_roster = await alice.make_iq_get(queryxmlns="jabber:iq:roster").send()
    items = {str(jid): item for jid, item in server_roster["roster"]["items"].items()}
    assert items["bob@localhost"]["subscription"] == "both", server_roster
    step("subscription handshake both ways: both/both, confirmed by a roster get")

    received = []
    bob.add_event_handler("message", lambda msg: received.append(msg))
    alice.send_message(mto="bob@localhost", mbody="Hello Bob", mtype="chat")
    await until(lambda: any(m["body"] == "Hello Bob" for m in received), "alice's message")
    step("message alice -> bob")

    pushes = []
    alice_phone.add_event_handler("blocked", lambda iq: pushes.append(("block", [str(j) for j in iq["block"]["items"]])))
    alice_phone.add_event_handler("unblocked", lambda iq: pushes.append(("unblock", [str(j) for j in iq["unblock"]["items"]])))
    await alice_phone.plugin["xep_0191"].get_blocked()
    await alice.plugin["xep_0191"].block("bob@localhost")
    blocked = await alice.plugin["xep_0191"].get_blocked()
    assert [str(j) for j in blocked["blocklist"]["items"]] == ["bob@localhost"], blocked
    await until(lambda: ("block", ["bob@localhost"]) in pushes, "the block-list push on the phone")
    step("block from the laptop, pushed to the phone")

    errors = []
    bob.add_event_handler("message_error", lambda msg: errors.append(msg))
    alice_got = []
    alice.add_event_handler("message", lambda msg: alice_got.append(msg))
    bob.send_message(mto="alice@localhost", mbody="Still there?", mtype="chat")
    await until(lambda: errors, "the bounce")
    assert errors[0]["error"]["condition"] == "service-unavailable", errors[0]
    assert not any(m["body"] == "Still there?" for m in alice_got)
    step("messages from a blocked contact bounce with service-unavailable")

    await alice.plugin["xep_0191"].unblock("bob@localhost")
    await until(lambda: ("unblock", ["bob@localhost"]) in pushes, "the unblock push on the phone")
    bob.send_message(mto="alice@localhost", mbody="And now?", mtype="chat")
    await until(lambda: any(m["body"] == "And now?" for m in alice_got), "the message after unblocking")
    step("unblock, pushed to the phone; messages flow again")

    for client in (alice, alice_phone, bob):
        client.disconnect()
    await asyncio.sleep(0.2)


if __name__ == "__main__":  # slixmpp_muc.py imports the helpers above
    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    except Exception as err:  # noqa: BLE001 - report any failure as the test's result
        print(f"FAIL {type(err).__name__}: {err}", flush=True)
        sys.exit(1)
