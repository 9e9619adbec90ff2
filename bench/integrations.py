"""What a receipt adds to each LLM call, per integration (issue 16: target < 5 ms at p50).

Starts ``receipt serve`` (one worker, SQLite) on a fresh deployment and runs the same calls
through each integration twice, with the real SDKs on an in-process mock LLM (recorded answers,
``httpx.MockTransport``: the provider's own latency is left out, so the difference is all ours):
bare, wrapped with inline delivery (the call waits for its receipt), and wrapped with
``background=True`` (a thread delivers it), both with a spool file and a pinned public key.
The LiteLLM rows go through LiteLLM's OpenAI provider on the same mock LLM, with the receipts
callback (:class:`LiteLLMCase`: LiteLLM calls it off the caller's path in both modes).
Prints p50 and p99 per call and the p50 added. For the asyncio integrations it also prints the
99th percentile of the event loop's lag in each run (how late a 1 ms ticker task wakes up),
since a receipt must never hold up the agent's other tasks. Figures are printed, never
asserted; on a machine shared with other work the service's round trip (and so the inline
figure) grows with the load.

    python bench/integrations.py [--calls 150] [--llm-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # (else fetched when imported)

import anthropic  # noqa: E402
import anthropic._base_client  # noqa: E402
import httpx  # noqa: E402
import litellm  # noqa: E402
import loadgen  # noqa: E402
import openai  # noqa: E402

from receipts.client import AsyncReceiptsClient, ReceiptsClient  # noqa: E402
from receipts.client.anthropic import wrap as wrap_anthropic  # noqa: E402
from receipts.client.litellm import ReceiptsLogger  # noqa: E402
from receipts.client.openai import wrap as wrap_openai  # noqa: E402
from receipts.client.sdk import wait_for_receipts  # noqa: E402
from tests.receipts.client import recorded  # noqa: E402

ASK: Any = [{"role": "user", "content": "hi"}]
ANTHROPIC_HTTP = getattr(anthropic._base_client, "httpx2", httpx)


def _receipt(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "receipts", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    return out.stdout.strip().splitlines()[-1]


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def _timed(call: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm-up: connections, caches
        call()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


async def _atimed(call: Callable[[], Awaitable[Any]], n: int) -> tuple[list[float], float]:
    """Per-call times and the 99th percentile of the event loop's lag (how late a 1 ms ticker
    task wakes up: what the other tasks of the agent wait)."""
    lags: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(max(0.0, time.perf_counter() - t - 0.001))

    for _ in range(min(20, n)):
        await call()
    tick = asyncio.create_task(ticker())
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        out.append(time.perf_counter() - t)
    running = False
    await tick
    lags.sort()
    return out, lags[int(len(lags) * 0.99) - 1] if lags else 0.0


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


async def _adrain(stream: Any) -> None:
    async for _ in stream:
        pass


class LiteLLMCase:
    """``litellm.completion`` / ``acompletion`` through LiteLLM's OpenAI provider on the mock
    LLM, with a ``ReceiptsLogger`` as LiteLLM's callback when ``receipts`` is given (LiteLLM
    runs callbacks off the caller's path in any case: a thread for ``completion``, a task for
    ``acompletion``; "inline" is the logger delivering on that thread or task, "background"
    its own delivery thread). LiteLLM's callbacks are global: each call first makes its own
    logger the only one."""

    active: ReceiptsLogger | None = None

    def __init__(self, receipts: ReceiptsClient | AsyncReceiptsClient | None,
                 background: bool, is_async: bool) -> None:
        llm = recorded.MockLLM(recorded.openai_answer, delay=LLM_DELAY[0])
        self.client: Any = openai.AsyncOpenAI(api_key="sk", max_retries=0,
                                              http_client=llm.asyncio()) if is_async \
            else openai.OpenAI(api_key="sk", max_retries=0, http_client=llm.sync())
        self.made = self.done = 0
        self.logger = None if receipts is None else ReceiptsLogger(
            receipts, background=background, on_receipt=self._count, on_error=self._count)
        WRAPPED.append(self)

    def _count(self, _: Any) -> None:
        self.done += 1

    def _install(self) -> None:
        if LiteLLMCase.active is not self.logger:
            if LiteLLMCase.active is not None:
                litellm.logging_callback_manager.remove_callback_from_all_lists(
                    LiteLLMCase.active)
            litellm.callbacks = [] if self.logger is None else [self.logger]
            LiteLLMCase.active = self.logger
        self.made += self.logger is not None

    def __call__(self) -> Any:
        self._install()
        return litellm.completion(model="openai/gpt-4o", messages=ASK, client=self.client,
                                  api_key="sk")

    async def acall(self) -> Any:
        self._install()
        return await litellm.acompletion(model="openai/gpt-4o", messages=ASK,
                                         client=self.client, api_key="sk")

    def wait(self, timeout: float = 120) -> None:
        """Until every call made so far has its receipt (or its error)."""
        deadline = time.monotonic() + timeout
        while self.done < self.made and time.monotonic() < deadline:
            time.sleep(0.01)


def sync_cases(receipts: ReceiptsClient | None, background: bool = False,
               ) -> dict[str, Callable[[], Any]]:
    """Blocking integrations, wrapped when ``receipts`` is given."""
    llm = recorded.MockLLM(recorded.openai_answer, delay=LLM_DELAY[0])
    gpt: Any = openai.OpenAI(api_key="sk", max_retries=0, http_client=llm.sync())
    claude: Any = anthropic.Anthropic(api_key="sk", max_retries=0, http_client=recorded.MockLLM(
        recorded.anthropic_answer, ANTHROPIC_HTTP, LLM_DELAY[0]).sync())
    if receipts is not None:
        wrap_openai(gpt, receipts, background=background)
        wrap_anthropic(claude, receipts, background=background)
    WRAPPED.extend((gpt, claude))
    return {
        "openai chat": lambda: gpt.chat.completions.create(model="gpt-4o", messages=ASK),
        "openai chat stream": lambda: _drain(gpt.chat.completions.create(
            model="gpt-4o", messages=ASK, stream=True)),
        "openai responses": lambda: gpt.responses.create(model="o3", input="hi"),
        "openai embeddings": lambda: gpt.embeddings.create(model="text-embedding-3-small",
                                                            input="hi"),
        "anthropic message": lambda: claude.messages.create(model="claude-sonnet-4",
                                                            max_tokens=10, messages=ASK),
        "anthropic stream": lambda: _drain(claude.messages.create(
            model="claude-sonnet-4", max_tokens=10, messages=ASK, stream=True)),
        "litellm completion": LiteLLMCase(receipts, background, is_async=False),
    }


def async_cases(receipts: AsyncReceiptsClient | None, background: bool = False,
                ) -> dict[str, Callable[[], Awaitable[Any]]]:
    """asyncio integrations, wrapped when ``receipts`` is given."""
    gpt: Any = openai.AsyncOpenAI(api_key="sk", max_retries=0, http_client=recorded.MockLLM(
        recorded.openai_answer, delay=LLM_DELAY[0]).asyncio())
    claude: Any = anthropic.AsyncAnthropic(api_key="sk", max_retries=0,
                                           http_client=recorded.MockLLM(
                                               recorded.anthropic_answer, ANTHROPIC_HTTP,
                                               LLM_DELAY[0]).asyncio())
    if receipts is not None:
        wrap_openai(gpt, receipts, background=background)
        wrap_anthropic(claude, receipts, background=background)
    WRAPPED.extend((gpt, claude))

    async def chat_stream() -> None:
        await _adrain(await gpt.chat.completions.create(model="gpt-4o", messages=ASK,
                                                        stream=True))

    return {
        "async openai chat": lambda: gpt.chat.completions.create(model="gpt-4o", messages=ASK),
        "async openai chat stream": chat_stream,
        "async anthropic message": lambda: claude.messages.create(
            model="claude-sonnet-4", max_tokens=10, messages=ASK),
        "async litellm acompletion": LiteLLMCase(receipts, background, is_async=True).acall,
    }


LLM_DELAY = [0.0]
"""The mock provider's latency per answer, in seconds (--llm-ms)."""

WRAPPED: list[Any] = []
"""Every SDK client made, so the background runs can wait for their receipts."""


def _row(name: str, runs: list[list[float]], stalls: list[float] | None = None) -> None:
    (b50, _), (i50, i99), (g50, g99) = (_ms(r) for r in runs)
    line = f"{name:26} {b50:7.2f} {i50:7.2f} {i99:7.2f} {i50 - b50:7.2f} {g50:7.2f} " \
           f"{g99:7.2f} {g50 - b50:7.2f}"
    if stalls:
        line += "   " + " ".join(f"{x * 1000:6.1f}" for x in stalls)
    print(line)


def _settle() -> None:
    for client in WRAPPED:
        if isinstance(client, LiteLLMCase):
            client.wait()
        else:
            wait_for_receipts(client)


def run(url: str, key: str, public_key: Path, calls: int, spool: Path) -> None:
    print(f"{'':26} {'bare':>7} {'------- inline -------':>23} {'----- background -----':>23}")
    print(f"{'integration (ms per call)':26} {'p50':>7} {'p50':>7} {'p99':>7} {'added':>7} "
          f"{'p50':>7} {'p99':>7} {'added':>7}   loop lag p99: bare inline bg")
    receipts = ReceiptsClient(url, key, spool=spool, public_key=public_key)
    bare, inline, behind = sync_cases(None), sync_cases(receipts), sync_cases(receipts, True)
    for name in bare:
        runs = [_timed(bare[name], calls), _timed(inline[name], calls),
                _timed(behind[name], calls)]
        _settle()
        _row(name, runs)
    record = _timed(lambda: receipts.record(
        provider="openai", model="gpt-4o", usage_format="openai",
        usage={"prompt_tokens": 10, "completion_tokens": 2}), calls)
    _row("record() alone", [[0.0], record, record])

    async def asynchronous() -> None:
        areceipts = AsyncReceiptsClient(url, key, spool=spool, public_key=public_key)
        cases = [async_cases(None), async_cases(areceipts), async_cases(areceipts, True)]
        for name in cases[0]:
            measured = [await _atimed(case[name], calls) for case in cases]
            await asyncio.to_thread(_settle)
            _row(name, [m[0] for m in measured], [m[1] for m in measured])
        await areceipts.aclose()

    asyncio.run(asynchronous())
    receipts.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=150, help="calls per case and mode")
    parser.add_argument("--llm-ms", type=float, default=0.0,
                        help="the mock provider's latency per answer (0: back-to-back calls, "
                             "where a background delivery competes with the agent for the "
                             "interpreter; a real provider's seconds leave it idle time)")
    args = parser.parse_args()
    LLM_DELAY[0] = args.llm_ms / 1000
    print(f"mock LLM latency {args.llm_ms:g} ms, {args.calls} calls per case and mode")
    with tempfile.TemporaryDirectory(prefix="receipts-bench-") as tmp:
        env = {**os.environ, "RECEIPTS_DATA": str(Path(tmp) / "data")}
        _receipt("init", "--price-book", "shipped", env=env)
        key = _receipt("agent", "create", "--team", "bench", "--tag", "project=bench",
                       "--tag", "environment=bench", env=env)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "receipts", "serve", "--port", str(port), "--workers", "1"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            loadgen.wait_for_port("127.0.0.1", port)
            time.sleep(1.0)
            run(f"http://127.0.0.1:{port}", key, Path(tmp) / "data" / "signing-key.pub.pem",
                args.calls, Path(tmp) / "spool.sqlite")
        finally:
            server.terminate()
            server.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


if __name__ == "__main__":
    main()
