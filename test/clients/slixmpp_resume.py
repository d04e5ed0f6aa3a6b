"""slixmpp's XEP-0198 plugin (xep_0198) against a Parley server: stream
management enabled with resumption, the TCP connection killed under the
client, a message sent to it meanwhile, then the stream resumed on a new
connection and the message delivered, once.

Usage: python slixmpp_resume.py HOST PORT
Prints one line per step; exits 0 when every step passed.
"""
import asyncio
import logging
import os
import ssl
import sys

from slixmpp import ClientXMPP

HOST, PORT = sys.argv[1], int(sys.argv[2])
if os.environ.get("SLIXMPP_DEBUG"):
    logging.basicConfig(level=logging.DEBUG)
TIMEOUT = 10


def make(jid: str, password: str) -> ClientXMPP:
    client = ClientXMPP(jid, password)
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE
    client.register_plugin("xep_0198")
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
    alice = make("alice@localhost/phone", "wonderland")
    bob = make("bob@localhost/desk", "bob the builder")
    events = []
    for name in ("session_start", "sm_enabled", "session_resumed", "sm_failed"):
        alice.add_event_handler(name, lambda _e, name=name: events.append(name))
    bob_started = []
    bob.add_event_handler("session_start", lambda _e: bob_started.append(True))
    got = []
    alice.add_event_handler("message", lambda m: got.append(str(m["body"])))
    alice.connect(host=HOST, port=PORT)
    bob.connect(host=HOST, port=PORT)
    await until(lambda: "sm_enabled" in events and bob_started, "both online, stream management enabled")
    sm = alice.plugin["xep_0198"]
    assert sm.sm_id, "a resumable stream id"
    step("stream management enabled with resumption")

    bob.send_message(mto="alice@localhost/phone", mbody="first", mtype="chat")
    await until(lambda: "first" in got, "the first message")
    step("a message before the connection is killed")

    previd = sm.sm_id
    alice.abort()  # the TCP connection dies without a stream close
    await asyncio.sleep(0.3)
    bob.send_message(mto="alice@localhost/phone", mbody="while away", mtype="chat")
    await asyncio.sleep(0.3)
    alice.connect(host=HOST, port=PORT)
    await until(lambda: "session_resumed" in events or "sm_failed" in events, "the resumption")
    assert "session_resumed" in events, events
    assert sm.sm_id == previd, (sm.sm_id, previd)
    step("resumed on a new connection")

    await until(lambda: "while away" in got, "the message sent while the connection was gone")
    await asyncio.sleep(0.3)
    assert got.count("while away") == 1 and got.count("first") == 1, got
    step("the queued message delivered once after resumption")

    alice.send_message(mto="bob@localhost/desk", mbody="back", mtype="chat")
    bob_got = []
    bob.add_event_handler("message", lambda m: bob_got.append(str(m["body"])))
    await until(lambda: "back" in bob_got, "a message from the resumed stream")
    step("the resumed stream sends")

    for client in (alice, bob):
        client.disconnect()
    await asyncio.sleep(0.2)


try:
    asyncio.run(asyncio.wait_for(main(), 60))
except Exception as err:  # noqa: BLE001 - report any failure as the test's result
    print(f"FAIL {type(err).__name__}: {err}", flush=True)
    sys.exit(1)
