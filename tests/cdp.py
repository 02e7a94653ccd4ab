"""Load a page in headless Chromium (the Debian package) over the DevTools protocol: console
errors, uncaught exceptions and every network request are recorded, JavaScript evaluated in
the page, a screenshot taken. Uses aiohttp's websocket client (dev extra); loopback only."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
]  # fmt: skip


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    values: dict[str, Any] = field(default_factory=dict)  # the evaluated expressions
    screenshot: bytes = b""
    seconds: float = 0.0


class _Session:
    def __init__(self, ws):
        self.ws, self.n, self.events = ws, 0, []
        self.pending: dict[int, asyncio.Future] = {}

    async def pump(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)

    async def call(self, method: str, timeout: float = 60, **params):
        self.n += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.n] = fut
        await self.ws.send_str(json.dumps({"id": self.n, "method": method, "params": params}))
        res = await asyncio.wait_for(fut, timeout)
        if "error" in res:
            raise RuntimeError(f"{method}: {res['error']}")
        return res.get("result", {})


async def _load(
    url: str,
    expressions: dict[str, str],
    ready: str,
    width: int,
    height: int,
    shot: bool,
    timeout: float,
) -> PageLoad:
    import aiohttp

    if chromium() is None:
        raise RuntimeError("chromium not found on PATH (Debian: apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="traindx-chromium-")
    proc = subprocess.Popen(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in await r.json() if t["type"] == "page"]
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                s = _Session(ws)
                pump = asyncio.create_task(s.pump())
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await s.call(f"{domain}.enable")
                await s.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                t0 = time.monotonic()
                await s.call("Page.navigate", url=url)
                out = PageLoad()
                while True:  # until the page says it is done (or the timeout)
                    r = await s.call("Runtime.evaluate", expression=ready, returnByValue=True)
                    if r.get("result", {}).get("value"):
                        break
                    if time.monotonic() - t0 > timeout:
                        raise TimeoutError(f"{url}: not ready after {timeout:.0f} s ({ready})")
                    await asyncio.sleep(0.05)
                out.seconds = time.monotonic() - t0
                for name, expr in expressions.items():
                    r = await s.call(
                        "Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True
                    )
                    out.values[name] = r.get("result", {}).get("value")
                if shot:
                    r = await s.call("Page.captureScreenshot", format="png")
                    out.screenshot = base64.b64decode(r["data"])
                await asyncio.sleep(0.1)  # late console messages
                pump.cancel()
        for ev in s.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.errors.append(
                    f"exception: {d.get('exception', {}).get('description') or d.get('text')}"
                )
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
                out.errors.append(
                    f"console.{p['type']}: "
                    + " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
                )
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.errors.append(
                    f"log {p['entry']['level']}: {p['entry']['text']} ({p['entry'].get('url', '')})"
                )
            elif m == "Network.requestWillBeSent":
                out.requests.append(p["request"]["url"])
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def load(
    path: str | os.PathLike[str],
    expressions: dict[str, str],
    *,
    ready: str = "document.readyState === 'complete'",
    width: int = 1200,
    height: int = 900,
    screenshot: bool = False,
    timeout: float = 60,
) -> PageLoad:
    """Open ``path`` (a local file) in a fresh headless Chromium profile and report."""
    url = Path(path).resolve().as_uri()
    return asyncio.run(_load(url, expressions, ready, width, height, screenshot, timeout))
