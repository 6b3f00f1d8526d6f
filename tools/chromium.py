"""A headless Chromium driven over its DevTools protocol, and the demo page (`svgan_tf.demo`) as a user sees it.

Used by tests/test_demo_app.py and tools/bench_demo.py. The browser is Debian's `chromium` (`apt-get install
-y chromium`; nothing is downloaded), started with `--remote-debugging-port=0`; its page is driven over the
DevTools websocket (`websocket-client`, requirements/dev.txt): JavaScript in the page, real mouse and
keyboard events, screenshots.
"""

import base64
import io
import json
import pathlib
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import numpy as np
import PIL.Image


def executable():
    """Chromium's path, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port():
    """A TCP port nothing listens on now (for a server started next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(condition, timeout, what):
    """Polls `condition()` until it returns something truthy, which is returned; AssertionError after `timeout`
    seconds, naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Chromium:
    """A headless Chromium and its page, driven over the DevTools protocol; `close()` ends it.

    Args:
        path: the chromium executable.
        profile: an empty directory for its profile (it writes its DevTools port there).
    """

    def __init__(self, path, profile):
        import websocket

        self.socket = None
        self.process = subprocess.Popen(
            [path, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "--window-size=1200,1400", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            active = pathlib.Path(profile, "DevToolsActivePort")
            port = wait(lambda: active.exists() and active.read_text().split("\n")[0], 30, "Chromium to start")
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            page = next(p for p in pages if p["type"] == "page")
            # Chromium refuses DevTools connections that carry an Origin header it was not told to allow.
            self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        except BaseException:
            self.close()
            raise
        self.next_id = 0

    def send(self, method, **params):
        """Calls a DevTools method and returns its result (events meanwhile are dropped)."""
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def js(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path):
        """Writes the page as a PNG file."""
        pathlib.Path(path).write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self):
        if self.socket is not None:
            self.socket.close()
        self.process.kill()
        self.process.wait()


class DemoPage:
    """The demo page in a `Chromium`: what it shows (by element id, see `svgan_tf.demo.build_app`) and a
    user's actions on it."""

    def __init__(self, browser, url, timeout=60):
        self.browser = browser
        browser.send("Page.navigate", url=url)
        wait(lambda: browser.js("(document.querySelector('#frame img') || {}).complete"), timeout, "the first frame")

    def status(self, elem="status"):
        return self.browser.js(f"document.querySelector('#{elem}').innerText").strip()

    def src(self, elem="frame"):
        return self.browser.js(f"(document.querySelector('#{elem} img') || {{}}).src || null")

    def image(self, elem="frame"):
        """The image the page's <img> shows: the bytes the page fetches from its own src, decoded (uint8 RGB)."""
        data = self.browser.js(f"""(async () => {{
            const bytes = new Uint8Array(await (await fetch(document.querySelector('#{elem} img').src)).arrayBuffer());
            let text = ''; for (const b of bytes) text += String.fromCharCode(b); return btoa(text); }})()""")
        image = PIL.Image.open(io.BytesIO(base64.b64decode(data)))
        if image.format != "PNG":  # the exact uint8 frame needs a lossless format
            raise AssertionError(f"#{elem} shows a {image.format}, not a PNG")
        return np.asarray(image.convert("RGB"))

    def watch(self, elem="frame"):
        """Starts a stopwatch: `shown_ms()` is the time from now until the element's next new image is decoded.

        An <img> replaced while it decodes rejects its decode(); the one that replaced it is then waited for.
        """
        self.browser.js(f"""(() => {{
            const box = document.querySelector('#{elem}'), old = (box.querySelector('img') || {{}}).src;
            let pending = null;
            window.svganShown = null; window.svganMoved = performance.now();
            const observer = new MutationObserver(() => check());
            const check = () => {{
                const img = box.querySelector('img');
                if (!img || !img.src || img.src === old || img === pending) return;
                pending = img;
                img.decode().then(() => {{
                    if (box.querySelector('img') !== img) {{ pending = null; return check(); }}
                    observer.disconnect(); window.svganShown = performance.now();
                }}, () => {{ pending = null; check(); }});
            }};
            observer.observe(box, {{subtree: true, childList: true, attributes: true}});
        }})()""")

    def shown_ms(self, timeout=30):
        wait(lambda: self.browser.js("window.svganShown !== null"), timeout, "the new frame")
        return self.browser.js("window.svganShown - window.svganMoved")

    def drag_slider(self, elem, fraction):
        """Drags the slider's thumb with the mouse to `fraction` of its track, as a user moves it (a click on
        the thumb itself would not move it)."""
        x0, x1, y = self.browser.js(f"""(() => {{
            const input = document.querySelector('#{elem} input[type=range]'), r = input.getBoundingClientRect();
            const at = (Number(input.value) - Number(input.min)) / (Number(input.max) - Number(input.min));
            return [r.left + at * r.width, r.left + {float(fraction)!r} * r.width, r.top + r.height / 2]; }})()""")
        self.browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=x0, y=y)
        self.browser.send("Input.dispatchMouseEvent", type="mousePressed", x=x0, y=y, button="left", clickCount=1)
        self.browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=x1, y=y, button="left", buttons=1)
        self.browser.send("Input.dispatchMouseEvent", type="mouseReleased", x=x1, y=y, button="left", clickCount=1)

    def type(self, selector, text):
        """Replaces the text of an input as a user does (select all, type), then leaves it (Tab)."""
        self.browser.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); "
                        "e.select(); })()")
        self.browser.send("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.browser.send("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)

    def wait_status(self, pattern, elem="status", timeout=30):
        """The match of regular expression `pattern` in the element's text, once there (on a timeout, the
        AssertionError quotes the text it has)."""
        try:
            return wait(lambda: re.search(pattern, self.status(elem)), timeout, f"{pattern!r} in #{elem}")
        except AssertionError as error:
            raise AssertionError(f"{error}; it shows {self.status(elem)!r}") from None

    def tab(self, name):
        """Opens the page's tab whose title contains `name`."""
        self.browser.js(f"[...document.querySelectorAll('button[role=tab]')].find(b => b.innerText.includes("
                        f"{json.dumps(name)})).click()")
