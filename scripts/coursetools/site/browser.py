"""A headless Chromium driven over the DevTools protocol, to check the built site as a reader sees it.

One browser serves every page: it is started with ``--remote-debugging-pipe`` (commands on its
fd 3, answers on fd 4, JSON messages ended by a NUL byte), so no port is opened and nothing
beyond the standard library and Debian's ``chromium`` is needed. For each page it records what
a reader would meet: uncaught exceptions, ``console.error`` calls, failed loads (a missing image
or script) and any request that leaves the machine (the site must work offline).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field

REMOTE = ("http://", "https://", "ws://", "wss://")


class BrowserError(RuntimeError):
    """Chromium could not be started or stopped answering."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    """What loading one page showed."""

    url: str
    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions, failed loads and remote requests, each as one line."""
    links: list[str] = field(default_factory=list)
    """Every ``a[href]`` of the page, resolved to an absolute URL."""
    images: list[tuple[str, bool]] = field(default_factory=list)
    """(src, drawn) of every image: drawn is False for an image that did not load."""
    seconds: float = 0.0


def _pipes_to_3_and_4(commands: int, answers: int) -> None:
    """In the child before exec: the two pipe ends become fds 3 and 4, where Chromium looks for them.

    Copies are taken first, so neither end is overwritten when it already sits on 3 or 4."""
    commands, answers = os.dup(commands), os.dup(answers)
    os.dup2(commands, 3)
    os.dup2(answers, 4)


class Chromium:
    """``with Chromium() as browser: visit = browser.visit(url)``."""

    def __init__(self, executable: str | None = None, *, width: int = 1280, height: int = 900, timeout: float = 30.0):
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise BrowserError("no chromium on PATH: install Debian's with `apt-get install -y chromium`")
        self.width, self.height, self.timeout = width, height, timeout
        self._next_id, self._buffer, self._events = 0, b"", []

    # ------------------------------------------------------------ process and protocol
    def __enter__(self) -> "Chromium":
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                 "--allow-file-access-from-files", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen([self.executable, *flags], close_fds=False, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL,
                                        preexec_fn=lambda: _pipes_to_3_and_4(commands_read, answers_write))
        os.close(commands_read)
        os.close(answers_write)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *_) -> None:
        try:
            self.call("Browser.close")
        except BrowserError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)

    def call(self, method: str, *, session: bool = False, **params) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise BrowserError(f"chromium did not answer within {self.timeout:g} s")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise BrowserError("chromium exited")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _wait_for(self, method: str, deadline: float) -> None:
        while not any(e["method"] == method for e in self._events):
            self._events.append(self._read(deadline))

    def _settle(self, seconds: float) -> None:
        """Collect events for a short while after the load (late errors, lazy images)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._events.append(self._read(deadline))
        except BrowserError as error:
            if "did not answer" not in str(error):
                raise

    # ------------------------------------------------------------ pages
    def visit(self, url: str, *, settle: float = 0.15) -> PageVisit:
        """Load a page, wait for its load event, and report its errors, links and images."""
        started = time.monotonic()
        self._events = []
        self.call("Page.navigate", session=True, url=url)
        self._wait_for("Page.loadEventFired", time.monotonic() + self.timeout)
        self._settle(settle)
        visit = PageVisit(url, errors=self._errors())
        found = self.evaluate("JSON.stringify({links: [...document.querySelectorAll('a[href]')].map(a => a.href),"
                              " images: [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])})")
        data = json.loads(found)
        visit.links, visit.images = data["links"], [tuple(pair) for pair in data["images"]]
        visit.seconds = time.monotonic() - started
        return visit

    def _errors(self) -> list[str]:
        errors = []
        for event in self._events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append("uncaught: " + details.get("exception", {}).get("description", details.get("text", "")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                           for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                errors.append(f"log: {entry['text']} {entry.get('url', '')}".strip())
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                errors.append(f"failed to load: {params.get('errorText')} ({params.get('type')})")
            elif method == "Network.requestWillBeSent" and params["request"]["url"].startswith(REMOTE):
                errors.append(f"remote request: {params['request']['url']}")
        return errors

    def evaluate(self, expression: str, *, wait: bool = False):
        """The value of a JavaScript expression in the page (awaited when it is a promise and ``wait``)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=wait)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}...: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path, *, full_page: bool = False) -> None:
        """Write a PNG of the page (the window, or the whole page's height)."""
        params = {"format": "png"}
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
            params |= {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": self.width, "height": min(height, 8000), "scale": 1}}
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
