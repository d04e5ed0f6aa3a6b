"""slixmpp's XEP-0045 plugin (Debian's python3-slixmpp) against a Parley
server: alice creates and configures a room, bob joins and gets the history
and the subject, they chat, bob changes his nickname, both leave.

Usage: python3 slixmpp_muc.py HOST PORT
Prints one line per step; exits 0 when every step passed.
"""
import asyncio
import sys

from slixmpp_scenario import make, online, until, step, TIMEOUT  # noqa: E402

HOST, PORT = sys.argv[1], int(sys.argv[2])
ROOM = "verona@conference.localhost"


def with_muc(client):
    client.register_plugin("xep_0045")
    return client


async def main() -> None:
    alice = await online(with_muc(make("alice@localhost/laptop", "wonderland")))
    bob = await online(with_muc(make("bob@localhost/desk", "bob the builder")))
    muc_a, muc_b = alice.plugin["xep_0045"], bob.plugin["xep_0045"]

    pres, _subject, _occupants, _history = await muc_a.join_muc_wait(ROOM, "Alice", timeout=TIMEOUT)
    assert "201" in {c.get("code") for c in pres.xml.iter("{http://jabber.org/protocol/muc#user}status")}, pres
    form = await muc_a.get_room_config(ROOM)
    form["type"] = "submit"
    form.set_values({"muc#roomconfig_roomname": "Verona"})
    await muc_a.set_room_config(ROOM, form)
    step("alice created and configured the room")

    said = asyncio.get_running_loop().create_future()
    alice.add_event_handler("muc::%s::message" % ROOM, lambda m: m["body"] == "Good morrow" and not said.done() and said.set_result(m))
    alice.send_message(mto=ROOM, mbody="Good morrow", mtype="groupchat")
    await asyncio.wait_for(said, TIMEOUT)
    muc_a.set_subject(ROOM, "The feud")
    await asyncio.sleep(0.2)

    pres, subject, occupants, history = await muc_b.join_muc_wait(ROOM, "Bob", maxstanzas=10, timeout=TIMEOUT)
    assert subject["subject"] == "The feud", subject
    assert [m["body"] for m in history] == ["Good morrow"], [str(m) for m in history]
    # slixmpp counts its own presence among the occupants it saw come online.
    assert sorted(p["from"].resource for p in occupants) == ["Alice", "Bob"], [str(p) for p in occupants]
    step("bob joined with history and subject")

    heard = asyncio.get_running_loop().create_future()
    alice.add_event_handler("muc::%s::message" % ROOM, lambda m: m["body"] == "Hello" and not heard.done() and heard.set_result(m))
    bob.send_message(mto=ROOM, mbody="Hello", mtype="groupchat")
    msg = await asyncio.wait_for(heard, TIMEOUT)
    assert msg["from"] == ROOM + "/Bob", msg
    step("groupchat bob -> alice")

    renamed = asyncio.get_running_loop().create_future()
    alice.add_event_handler("muc::%s::got_online" % ROOM, lambda p: p["from"].resource == "Benvolio" and not renamed.done() and renamed.set_result(p))
    bob.send_presence(pto=ROOM + "/Benvolio")
    await asyncio.wait_for(renamed, TIMEOUT)
    await until(lambda: "Benvolio" in muc_a.get_roster(ROOM) and "Bob" not in muc_a.get_roster(ROOM), "alice's roster of the room to show the new nickname")
    step("bob changed his nickname")

    gone = asyncio.get_running_loop().create_future()
    alice.add_event_handler("muc::%s::got_offline" % ROOM, lambda p: p["from"].resource == "Benvolio" and not gone.done() and gone.set_result(p))
    muc_b.leave_muc(ROOM, "Benvolio")
    await asyncio.wait_for(gone, TIMEOUT)
    muc_a.leave_muc(ROOM, "Alice")
    step("both left")

    for c in (alice, bob):
        c.disconnect()


try:
    asyncio.run(asyncio.wait_for(main(), 60))
except Exception as err:  # noqa: BLE001 - report any failure as the test's result
    print(f"FAIL {type(err).__name__}: {err}", flush=True)
    sys.exit(1)
