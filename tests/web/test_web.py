#!/usr/bin/env python3
"""Browser test of Hearth's web client in Debian's headless Chromium, driven by Playwright.

Started by `tests/tests/web.rs` (`the_client_works_in_headless_chromium`) against a homeserver
the Rust harness runs; never starts a server itself. Two users chat in real time: sign up,
join, send, reply in a thread, react, edit, delete, upload an image, search and jump, unread
and mention marks, reload keeps the session, phone width, dark mode; every request goes to the
server's own origin (others are aborted and fail the test) and the console stays free of
errors. Screenshots of the main views go to --screenshots (docs/web when refreshing them).

    python3 tests/web/test_web.py --url http://127.0.0.1:PORT [--chromium /usr/bin/chromium]
        [--screenshots DIR]
"""

import argparse
import json
import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor
import struct
import sys
import tempfile
import time
import zlib
from urllib.parse import urlsplit

from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 15_000


def png(width=64, height=48):
    """A small RGB PNG, made here rather than committed."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 160)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Watch:
    """Fails the run on a request to another origin or an error in the console."""

    def __init__(self, origin):
        self.origin = origin
        self.foreign = []
        self.errors = []
        self.paused = False  # while the server restarts, failed connections are expected

    def attach(self, context, who):
        def route(r):
            url = r.request.url
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
                r.continue_()
            else:
                self.foreign.append(f"{who}: {url}")
                r.abort()

        context.route("**/*", route)

        def on_page(page):
            page.on("console", lambda m: m.type == "error" and not self.paused and self.errors.append(f"{who}: {m.text}"))
            page.on("pageerror", lambda e: self.errors.append(f"{who}: uncaught {e}"))
            page.on("response", lambda r: r.status >= 400 and not self.paused and self.errors.append(f"{who}: {r.status} {r.request.method} {r.url}"))

        context.on("page", on_page)


def call(origin, method, path, body=None, token=None):
    """The client API with a bearer token (to fill a channel quickly)."""
    req = urllib.request.Request(origin + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


def fill_channel(origin, channel, count, suffix):
    """A channel with `count` messages, sent by a bot over the API."""
    token = call(origin, "POST", "/api/v1/register", {"nick": f"bot{suffix}", "password": "correct horse battery"})["token"]
    call(origin, "POST", "/api/v1/channels/join", {"channel": channel}, token)
    send = lambda i: call(origin, "POST", "/api/v1/messages", {"to": channel, "body": f"message number {i:05}"}, token)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(count)))


def step(name):
    print(f"ok - {name}", flush=True)


def sign_up(page, url, nick):
    page.goto(url)
    page.get_by_role("button", name="No account? Sign up").click()
    page.get_by_label("Nick").fill(nick)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".conn")).to_have_text("Connected", timeout=TIMEOUT_MS)


def join(page, channel):
    page.get_by_role("button", name="+ Channel").click()
    page.get_by_label("Channel", exact=True).fill(channel)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator(".chat-head h2")).to_have_text(channel, timeout=TIMEOUT_MS)


def say(page, text):
    box = page.locator("#compose-main")
    box.fill(text)
    box.press("Enter")


def message(page, text):
    return page.locator("li.msg", has=page.locator(".body", has_text=text)).last


def across_servers(args):
    """Alice on one server, Bob on another: Bob joins Alice's channel as #name@server, they chat
    live both ways, and Bob starts a DM to alice@server that reaches Alice's sidebar."""
    url1, url2 = args.url.rstrip("/"), args.remote_url.rstrip("/")
    name1 = args.remote_names[0]
    suffix = str(int(time.time() * 1000) % 100000)
    alice_nick, bob_nick, chan = f"alice{suffix}", f"bob{suffix}", f"#fed{suffix}"
    watches = [Watch(url1), Watch(url2)]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        ctx_a = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx_b = browser.new_context(viewport={"width": 1280, "height": 800})
        watches[0].attach(ctx_a, "alice")
        watches[1].attach(ctx_b, "bob")
        alice, bob = ctx_a.new_page(), ctx_b.new_page()
        for page in (alice, bob):
            page.set_default_timeout(TIMEOUT_MS)
        sign_up(alice, url1 + "/", alice_nick)
        sign_up(bob, url2 + "/", bob_nick)
        join(alice, chan)
        remote = f"{chan}@{name1}"
        join(bob, remote)
        step(f"Bob on the second server joined {remote}")
        say(alice, "hello from the host")
        expect(message(bob, "hello from the host")).to_be_visible(timeout=30_000)
        say(bob, "hello from the member server")
        expect(message(alice, "hello from the member server")).to_be_visible(timeout=30_000)
        step("a channel of another server chats live both ways")
        bob.get_by_role("button", name="+ DM").click()
        bob.get_by_label("To", exact=True).fill(f"{alice_nick}@{name1}")
        bob.get_by_role("button", name="Start").click()
        say(bob, "a DM across servers")
        expect(alice.locator(".conv", has_text=bob_nick)).to_be_visible(timeout=30_000)
        alice.locator(".conv", has_text=bob_nick).click()
        expect(message(alice, "a DM across servers")).to_be_visible()
        step("a DM to nick@server reaches the other server's sidebar")
        browser.close()
    failed = False
    for w in watches:
        if w.foreign or w.errors:
            failed = True
            print("\n".join(w.foreign + w.errors), file=sys.stderr)
    if failed:
        sys.exit(1)
    step("no request left each page's own server; no console errors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--screenshots", default=None)
    ap.add_argument("--remote-url", default=None,
                    help="a second, federated homeserver: run the across-servers scenario instead")
    ap.add_argument("--remote-names", nargs=2, default=None,
                    help="the server names of --url and --remote-url")
    ap.add_argument("--restart", action="store_true",
                    help="ask the harness for a server restart (print RESTART, read 'restarted')")
    ap.add_argument("--messages", type=int, default=10_000, help="messages in the big channel")
    args = ap.parse_args()
    expect.set_options(timeout=TIMEOUT_MS)
    if args.remote_url:
        return across_servers(args)
    url = args.url.rstrip("/") + "/"
    origin = args.url.rstrip("/")
    shots = args.screenshots
    if shots:
        os.makedirs(shots, exist_ok=True)
    watch = Watch(origin)
    suffix = str(int(time.time() * 1000) % 100000)
    alice_nick, bob_nick = f"alice{suffix}", f"bob{suffix}"
    lounge_name, quiet_name = f"#lounge{suffix}", f"#quiet{suffix}"
    display = f"Alice Liddell {suffix}"

    def shot(page, name):
        if shots:
            page.screenshot(path=os.path.join(shots, f"{name}.png"))

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        ctx_a = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
        ctx_b = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light",
                                    permissions=["notifications"])
        # Count the desktop notifications Bob's page shows (Playwright injects this itself;
        # the page's CSP still forbids inline script).
        ctx_b.add_init_script(
            "window.__notes = []; const N = window.Notification;"
            "window.Notification = class extends N { constructor(t, o) { super(t, o); window.__notes.push(t); } };"
            # Every connection state the header shows, in order.
            "window.__conn = []; new MutationObserver(() => { const c = document.querySelector('.conn');"
            " const t = c && c.textContent; if (t && window.__conn[window.__conn.length - 1] !== t) window.__conn.push(t); })"
            ".observe(document, { subtree: true, childList: true, characterData: true });"
        )
        watch.attach(ctx_a, "alice")
        watch.attach(ctx_b, "bob")
        alice = ctx_a.new_page()
        bob = ctx_b.new_page()
        for page in (alice, bob):
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda d: d.accept())

        started = time.monotonic()
        alice.goto(url)
        expect(alice.get_by_role("button", name="Sign in")).to_be_visible()
        step(f"the login page is interactive in {time.monotonic() - started:.2f} s")

        sign_up(alice, url, alice_nick)
        sign_up(bob, url, bob_nick)
        step("two users signed up in two browsers")
        join(alice, lounge_name)
        bob.get_by_role("button", name="Browse").click()
        listed = bob.locator(".pane .result", has_text=lounge_name)
        expect(listed).to_contain_text("1 member")
        listed.get_by_role("button", name="Join").click()
        expect(bob.locator(".chat-head h2")).to_have_text(lounge_name)
        step(f"Alice created {lounge_name}; Bob found it among the public channels and joined")

        # Real time: Bob sees Alice's message without reloading.
        say(alice, "hello **bob**, see https://example.org/page")
        msg = message(bob, "hello bob")
        expect(msg).to_be_visible()
        expect(msg.locator("strong")).to_have_text("bob")
        link = msg.locator("a")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        say(bob, "hi alice <img src=x onerror=alert(1)> [click](javascript:alert(1))")
        expect(message(alice, "hi alice")).to_be_visible()
        assert alice.locator("li.msg img[src=x]").count() == 0, "markup in a message is text"
        assert alice.locator("li.msg a[href^=javascript]").count() == 0, "only http(s) and mailto links"
        step("messages arrive live; markdown renders, markup stays text, links open safely")

        # A send whose answer is lost: the server stores it, the browser hears a 503. The
        # client sends it again with the same txn_id, and it is stored once.
        sent = []

        def lose_first_answer(route):
            sent.append(json.loads(route.request.post_data or "{}").get("txn_id"))
            if len(sent) == 1:
                stored = route.fetch()
                assert stored.status == 201, f"the first send reached the server: {stored.status}"
                route.fulfill(status=503, content_type="application/json",
                              body=json.dumps({"error": {"code": "unavailable", "message": "answer lost"}}))
            else:
                route.continue_()

        watch.paused = True  # the 503 is this step's own
        alice.route("**/api/v1/messages", lose_first_answer)
        say(alice, "sent once though its answer was lost")
        expect(alice.locator("#compose-main")).to_have_value("")
        alice.unroute("**/api/v1/messages", lose_first_answer)
        watch.paused = False
        assert len(sent) == 2 and sent[0] and sent[0] == sent[1], f"retried with the same txn_id: {sent}"
        expect(message(bob, "sent once though its answer was lost")).to_be_visible()
        for page in (alice, bob):
            expect(page.locator("li.msg .body", has_text="sent once though its answer was lost")).to_have_count(1)
        step("a send whose answer was lost is sent again with its txn_id and stored once")

        # Typing indicator.
        bob.locator("#compose-main").type("typing away")
        expect(alice.locator(".typing")).to_contain_text("is typing", timeout=TIMEOUT_MS)
        bob.locator("#compose-main").fill("")
        step("the typing indicator shows")

        # Reply in a thread.
        target = message(bob, "hello bob")
        target.hover()
        target.get_by_role("button", name="Reply in thread").click()
        thread_box = bob.locator("#compose-" + target.get_attribute("data-id"))
        thread_box.fill("a threaded reply")
        thread_box.press("Enter")
        expect(bob.locator(".pane .msg", has_text="a threaded reply")).to_be_visible()
        expect(message(alice, "hello bob").locator(".replies")).to_have_text("1 reply")
        shot(bob, "thread")
        bob.get_by_role("button", name="Close").click()
        step("a reply in a thread; the root shows its count on the other side")

        # React with the picker.
        target = message(bob, "hello bob")
        target.hover()
        target.get_by_role("button", name="Add reaction").click()
        bob.get_by_role("menuitem", name="React 🎉").click()
        expect(message(alice, "hello bob").locator(".chip")).to_have_text("🎉 1")
        step("a reaction from the picker shows on both sides")

        # Edit the last message with ↑.
        alice.locator("#compose-main").click()
        alice.locator("#compose-main").press("ArrowUp")
        editor = alice.get_by_label("Edit message")
        editor.fill("hello bob, edited")
        editor.press("Enter")
        expect(message(bob, "hello bob, edited").locator(".edited")).to_be_visible()
        step("↑ edits the last message; the edit shows in place")

        # Delete.
        say(alice, "oops wrong room")
        doomed = message(alice, "oops wrong room")
        expect(doomed).to_be_visible()
        expect(message(bob, "oops wrong room")).to_be_visible()
        doomed.hover()
        doomed.get_by_role("button", name="Delete").click()
        expect(bob.locator("li.msg .deleted")).to_have_count(1)
        expect(bob.locator("li.msg", has_text="oops wrong room")).to_have_count(0)
        step("a delete shows in place")

        # Upload an image (file picker), with its preview on the other side.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "picture.png")
            with open(path, "wb") as f:
                f.write(png())
            alice.locator(".composer input[type=file]").set_input_files(path)
            expect(alice.locator(".uploads progress")).to_have_attribute("value", "1")
            say(alice, "a picture")
        img = message(bob, "a picture").locator(".files img")
        expect(img).to_be_visible()
        src = img.get_attribute("src")
        assert "/thumbnail" in src, src
        bob.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle())
        step("an uploaded image shows as a thumbnail")

        # Read receipts: Bob read it, Alice sees "Read by 1".
        expect(alice.locator(".receipt")).to_have_text("Read by 1", timeout=TIMEOUT_MS)
        step("read receipts show")
        shot(alice, "timeline")

        # Unread and mention marks: Bob looks at another channel while Alice mentions him.
        join(bob, quiet_name)
        say(alice, f"@{bob_nick} are you there?")
        lounge = bob.locator(".conv", has_text=lounge_name)
        expect(lounge.locator(".badge.mention")).to_have_text("@1")
        expect(lounge).to_have_class("conv unread")
        step("the sidebar shows unread and mention marks")
        bob.wait_for_function("window.__notes.length > 0")
        note = bob.evaluate("window.__notes[0]")
        assert alice_nick in note, note
        step(f"a desktop notification for the mention: {note!r}")
        lounge.click()
        expect(bob.locator(".conv", has_text=lounge_name).locator(".badge")).to_have_count(0)
        step("opening the conversation marks it read")

        # Search with a filter, then jump to the message.
        bob.keyboard.press("Control+f")
        bob.locator("#search-input").fill("picture")
        bob.get_by_role("button", name="Search", exact=True).click()
        result = bob.locator(".results .result").first
        expect(result.locator("mark")).to_have_text("picture")
        shot(bob, "search")
        result.click()
        expect(bob.locator("li.msg.highlight")).to_contain_text("a picture")
        step("search finds a message and jumps to it")

        # Channel settings (Alice created #lounge, so she is its operator).
        alice.get_by_role("button", name="Channel settings").click()
        expect(alice.get_by_label("Topic", exact=True)).to_be_visible()
        alice.get_by_label("Topic", exact=True).fill("Friday games night")
        alice.get_by_role("button", name="Set topic").click()
        expect(bob.locator("li.system", has_text="Friday games night")).to_be_visible()
        alice.get_by_role("button", name="Create invite").click()
        expect(alice.locator(".invite-code")).to_be_visible()
        shot(alice, "settings")
        alice.get_by_role("button", name="Close").click()
        step("an operator sets the topic and makes an invite link")

        # Notification centre: Bob has a mention.
        bob.get_by_role("button", name="Notifications").click()
        expect(bob.locator(".pane .result").first).to_contain_text("mention")
        bob.get_by_role("button", name="Close").click()
        step("the notification centre lists the mention")

        # Profile: a display name and an avatar; the header shows the name.
        alice.get_by_role("button", name="Your profile").click()
        alice.get_by_label("Display name").fill(display)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "me.png")
            with open(path, "wb") as f:
                f.write(png(96, 96))
            alice.locator(".pane input[type=file]").set_input_files(path)
            expect(alice.locator(".pane img.avatar")).to_be_visible()
        alice.get_by_label("Status message").fill("baking")
        alice.get_by_role("button", name="Save", exact=True).click()
        expect(alice.get_by_role("button", name="Your profile")).to_have_text(display)
        alice.get_by_role("button", name="Close").click()
        step("the profile takes a display name, an avatar and a status message")

        # User search, then a DM from the profile.
        bob.get_by_role("button", name="People").click()
        bob.get_by_label("Find people").fill(display)
        bob.get_by_role("button", name="Search", exact=True).click()
        bob.locator(".pane .result", has_text=display).click()
        expect(bob.locator(".pane h3")).to_have_text(display)
        bob.get_by_role("button", name="Message", exact=True).click()
        expect(bob.locator(".chat-head h2")).to_have_text(f"@ {alice_nick}")
        say(bob, "a direct hello")
        expect(alice.locator(".conv", has_text=bob_nick)).to_be_visible()
        alice.locator(".conv", has_text=bob_nick).click()
        expect(message(alice, "a direct hello")).to_be_visible()
        step("user search finds Alice by display name; a DM reaches her sidebar")

        # Ctrl+K switcher.
        bob.keyboard.press("Control+k")
        bob.locator("#switch-input").fill(quiet_name[1:])
        bob.locator("#switch-input").press("Enter")
        expect(bob.locator(".chat-head h2")).to_have_text(quiet_name)
        step("Ctrl+K switches conversations")

        # Reload keeps the session (the HttpOnly cookie), and the live stream resumes.
        bob.reload()
        expect(bob.locator(".conn")).to_have_text("Connected")
        expect(bob.locator(".conv", has_text=lounge_name)).to_be_visible()
        assert bob.evaluate("document.cookie").find("hearth_session") < 0, "the session cookie is HttpOnly"
        bob.locator(".conv", has_text=lounge_name).click()
        alice.locator(".conv", has_text=lounge_name).click()
        expect(alice.locator(".chat-head h2")).to_have_text(lounge_name)
        say(alice, "after your reload")
        expect(message(bob, "after your reload")).to_have_count(1)
        step("a reload keeps the session; nothing is doubled after reconnecting")

        # The server restarts: both pages show it, reconnect by themselves, and get what was
        # sent meanwhile exactly once.
        if args.restart:
            relay = call(origin, "POST", "/api/v1/register", {"nick": f"relay{suffix}", "password": "correct horse battery"})["token"]
            call(origin, "POST", "/api/v1/channels/join", {"channel": lounge_name}, relay)
            expect(message(bob, "after your reload")).to_have_count(1)
            watch.paused = True
            print("RESTART", flush=True)
            answer = sys.stdin.readline().strip()
            assert answer == "restarted", answer
            call(origin, "POST", "/api/v1/messages", {"to": lounge_name, "body": "sent while you were away"}, relay)
            for page in (alice, bob):
                expect(page.locator(".conn")).to_have_text("Connected", timeout=40_000)
                expect(message(page, "sent while you were away")).to_have_count(1)
            watch.paused = False
            states = bob.evaluate("window.__conn")
            assert "Connecting…" in states[1:] or "Offline" in states, states
            say(alice, "after the restart")
            expect(message(bob, "after the restart")).to_have_count(1)
            expect(message(bob, "after your reload")).to_have_count(1)
            step(f"after a server restart both reconnect ({' → '.join(states)}); nothing missed or doubled")

        # A channel of 10,000 messages: the timeline loads pages as it scrolls back, and keeps at
        # most 200 messages in the page.
        big = f"#big{suffix}"
        started = time.monotonic()
        fill_channel(origin, big, args.messages, suffix)
        step(f"{args.messages} messages sent to {big} in {time.monotonic() - started:.1f} s")
        history_calls = []
        bob.on("request", lambda r: "/api/v1/history" in r.url and history_calls.append(r.url))
        join(bob, big)
        expect(message(bob, f"message number {args.messages - 1:05}")).to_be_visible()
        most = 0
        for _ in range(12):
            if bob.locator(".beginning").count():
                break
            before = bob.locator("li.msg").first.get_attribute("data-id")
            bob.evaluate("document.querySelector('.messages').scrollTop = 0")
            bob.wait_for_function(
                "(id) => document.querySelector('li.msg') && document.querySelector('li.msg').dataset.id !== id",
                arg=before,
            )
            most = max(most, bob.locator("li.msg").count())
        assert most <= 200, f"{most} messages in the page"
        assert len(history_calls) < 20, f"{len(history_calls)} history pages for 12 scrolls"
        oldest = bob.locator("li.msg .body").first.inner_text()
        assert f"{args.messages - 1:05}" not in oldest, oldest
        step(f"scrolling back loads {len(history_calls)} pages of 50, at most {most} messages in the page; oldest shown: {oldest.strip()}")

        # Dark mode follows the system, and the toggle overrides it.
        ctx_d = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark",
                                    storage_state=ctx_b.storage_state())
        watch.attach(ctx_d, "bob-dark")
        dark = ctx_d.new_page()
        dark.goto(url + "#" + "%23" + lounge_name[1:])
        expect(dark.locator(".conn")).to_have_text("Connected")
        bg = dark.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(24, 24, 27)", bg
        expect(dark.locator("li.msg").first).to_be_visible()
        shot(dark, "dark")
        dark.get_by_role("button", name="Toggle dark mode").click()
        bg = dark.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(255, 255, 255)", bg
        dark.close()
        step("dark mode follows the system; the toggle switches it")

        # Phone width: one column at a time.
        bob.set_viewport_size({"width": 390, "height": 844})
        expect(bob.locator(".sidebar")).to_be_hidden()
        bob.get_by_role("button", name="Back to conversations").click()
        expect(bob.locator(".sidebar")).to_be_visible()
        expect(bob.locator(".chat")).to_be_hidden()
        bob.locator(".conv", has_text=lounge_name).click()
        expect(bob.locator("#compose-main")).to_be_visible()
        shot(bob, "phone")
        width = bob.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide at 390"
        step("the layout works at phone width")

        # Log out ends the session.
        bob.set_viewport_size({"width": 1280, "height": 800})
        bob.get_by_role("button", name="Your profile").click()
        bob.get_by_role("button", name="Log out").click()
        expect(bob.get_by_role("button", name="Sign in")).to_be_visible()
        bob.reload()
        expect(bob.get_by_role("button", name="Sign in")).to_be_visible()
        step("logging out ends the session")

        browser.close()

    if watch.foreign:
        print("requests to another origin:\n  " + "\n  ".join(watch.foreign), file=sys.stderr)
    if watch.errors:
        print("console errors:\n  " + "\n  ".join(watch.errors), file=sys.stderr)
    if watch.foreign or watch.errors:
        sys.exit(1)
    step("no request left the server's origin; no console errors")


if __name__ == "__main__":
    main()
