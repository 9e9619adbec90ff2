"""Regenerate docs/dashboard.png: the dashboard of a `receipt demo --serve` run, in Chromium.

    python docs/dashboard_screenshot.py            # needs '.[test]' and Debian's chromium

Starts the demo (its real service, simulated traffic of three teams, a budget, a runaway loop),
signs in with the finance token the demo prints, and saves the overview page at laptop width.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent / "dashboard.png"


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = subprocess.Popen([sys.executable, "-m", "receipts", "demo", "--serve", "--port",
                             str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        while "dashboard: http" not in (line := demo.stdout.readline()):
            if not line and demo.poll() is not None:
                print("the demo stopped before serving", file=sys.stderr)
                return 1
        token = demo.stdout.readline().strip()
        time.sleep(2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/dashboard/")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
        print(f"wrote {OUT}")
        return 0
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
