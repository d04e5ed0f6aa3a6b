"""slixmpp's own SASL choice against a Parley server: no mechanism forced, no
channel binding switched off. Works with Debian's slixmpp 1.8 (python3-slixmpp)
and with a current slixmpp from PyPI (a venv made by the test or .ci/run).

alice@localhost (password wonderland) logs in LOGINS times, one after another;
then bob@localhost (bob the builder) logs in and alice and bob exchange a message.

Usage: python3 slixmpp_login.py HOST PORT starttls|direct-tls LOGINS
Prints one JSON object per line:
  {"step": "login", "jid", "mechanism", "gs2", "tls", "failures": [[mechanism, condition, text]...], "ms"}
  {"step": "message", "ms"}
  {"step": "done", "slixmpp": version, "python_channel_bindings": [...]}
Exits 0 when every step passed; on a failure prints {"step": "fail", "error"} and exits 1.
"""
import asyncio
import json
import ssl
import sys
import time

import slixmpp
from slixmpp import ClientXMPP

HOST, PORT, TRANSPORT, LOGINS = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
TIMEOUT = 30


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def make(jid: str, password: str) -> ClientXMPP:
    client = ClientXMPP(jid, password)
    # The test server's certificate is self-signed.
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE
    return client


def connect(client: ClientXMPP) -> None:
    direct = TRANSPORT == "direct-tls"
    if hasattr(client, "enable_direct_tls"):
        # slixmpp >= 1.9: which transports to try, then connect(host, port).
        client.enable_direct_tls = direct
        client.enable_starttls = not direct
        client.enable_plaintext = False
        client.connect(HOST, PORT)
    else:
        # slixmpp 1.8: connect((host, port), use_ssl=...).
        client.connect((HOST, PORT), use_ssl=direct)


async def online(jid: str, password: str) -> ClientXMPP:
    client = make(jid, password)
    failures = []
    started = asyncio.get_running_loop().create_future()
    mechanisms = client.plugin["feature_mechanisms"]

    def failed(stanza) -> None:
        # slixmpp tries its next mechanism after each <failure/>; it gives up with no_auth.
        failures.append([mechanisms.mech.name, stanza["condition"], stanza["text"]])

    client.add_event_handler("failed_auth", failed)
    client.add_event_handler("no_auth", lambda _: started.done() or started.set_exception(RuntimeError(f"no mechanism left: {failures}")))
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    t0 = time.monotonic()
    connect(client)
    await asyncio.wait_for(started, TIMEOUT)
    mech = mechanisms.mech
    gs2 = getattr(mech, "gs2_header", None)
    emit(step="login", jid=str(client.boundjid), mechanism=mech.name,
         gs2=gs2.decode() if isinstance(gs2, bytes) else None,
         tls=client.socket.version() if isinstance(client.socket, (ssl.SSLSocket, ssl.SSLObject)) else None,
         failures=failures, ms=round((time.monotonic() - t0) * 1000))
    return client


async def main() -> None:
    alice = None
    for _ in range(LOGINS):
        if alice is not None:
            alice.disconnect()
            await asyncio.sleep(0.1)
        alice = await online("alice@localhost/laptop", "wonderland")
    bob = await online("bob@localhost/desk", "bob the builder")

    t0 = time.monotonic()
    got = asyncio.get_running_loop().create_future()
    bob.add_event_handler("message", lambda msg: msg["body"] == "ping?" and msg.reply("pong!").send())
    alice.add_event_handler("message", lambda msg: msg["body"] == "pong!" and not got.done() and got.set_result(True))
    alice.send_message(mto="bob@localhost/desk", mbody="ping?", mtype="chat")
    await asyncio.wait_for(got, TIMEOUT)
    emit(step="message", ms=round((time.monotonic() - t0) * 1000))

    for client in (alice, bob):
        client.disconnect()
    await asyncio.sleep(0.2)
    emit(step="done", slixmpp=slixmpp.__version__, python_channel_bindings=list(ssl.CHANNEL_BINDING_TYPES))


try:
    asyncio.run(asyncio.wait_for(main(), 120))
except Exception as err:  # noqa: BLE001 - report any failure as the test's result
    emit(step="fail", error=f"{type(err).__name__}: {err}")
    sys.exit(1)
