"""``receipt audit`` throughput: lines per second, total time and peak memory on a large log.

Generates a realistic mixed log (default 200,000 lines; the target is 1,000,000 lines in under
60 s on 2 cores, memory bounded): a JSON-lines file mixing gateway lines around OpenAI chat,
OpenAI Responses, Anthropic and Gemini responses, bare OpenAI chat completions and LiteLLM
spend log rows, plus a LiteLLM CSV export (CSV and JSON cannot share a file). About 1% of
requests are logged twice (retries), 3% lack a required tag, 2% use a ``-latest`` alias, 1% an
unknown model, and a third of the lines log a cost, some of them wrong or with cached tokens
priced as input. Then it runs the real command (``receipt audit FILES --format json``) in a
child process and prints its wall time, lines/s, CPU time (of its processes: the audit and its
workers) and peak RSS (of the largest, so generating the log does not count), and the warning
counts as a sanity check. ``--workers 1`` measures one process alone.

    python bench/audit.py                 # 200,000 lines
    python bench/audit.py --lines 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OPENAI = [("gpt-4o-2024-08-06", 2.5, 10.0), ("gpt-4o-mini-2024-07-18", 0.15, 0.6),
          ("o4-mini-2025-04-16", 1.1, 4.4), ("gpt-4.1", 2.0, 8.0)]
ANTHROPIC = [("claude-sonnet-4-20250514", 3.0, 15.0), ("claude-3-5-haiku-20241022", 0.8, 4.0)]
GOOGLE = [("gemini-2.5-flash", 0.3, 2.5), ("gemini-2.5-pro", 1.25, 10.0)]
TEAMS = [("search", "ranker"), ("support", "triage"), ("growth", "email"), ("research", "eval")]


def _tags(rng: random.Random) -> dict[str, str]:
    team, project = rng.choice(TEAMS)
    if rng.random() < 0.03:
        return {"team": team}
    return {"team": team, "project": project, "environment": "prod"}


def _cost(rng: random.Random, prompt: int, cached: int, completion: int, prices: tuple[
        str, float, float]) -> str | None:
    """A logged cost for a third of the lines: mostly right, some off, some cache-as-input."""
    if rng.random() > 0.33:
        return None
    _, inp, out = prices
    roll = rng.random()
    charged_cached = cached if roll < 0.05 else 0  # cached tokens priced as plain input
    cost = ((prompt - cached + charged_cached) * inp + (cached - charged_cached) * inp / 2
            + completion * out) / 1_000_000
    if 0.05 <= roll < 0.08:
        cost *= 1.3
    return f"{cost:.10f}"


def _openai_chat(rng: random.Random, rid: str, model: str) -> dict[str, Any]:
    prompt, completion = rng.randint(200, 8000), rng.randint(20, 1500)
    cached = rng.choice((0, 0, prompt // 2))
    return {"id": f"chatcmpl-{rid}", "object": "chat.completion", "created": 1786702863,
            "model": model, "service_tier": "default", "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": completion // 3}}}


def _line(rng: random.Random, n: int) -> str:
    rid = f"req-{n:08d}" if rng.random() > 0.01 or n < 10 else f"req-{n - 7:08d}"
    kind = rng.random()
    tags = _tags(rng)
    if kind < 0.15:  # a LiteLLM spend log row (JSON)
        model, _, _ = rng.choice(OPENAI)
        prompt, completion = rng.randint(200, 8000), rng.randint(20, 1500)
        return json.dumps({
            "request_id": rid, "call_type": "acompletion", "spend": rng.random() / 100,
            "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, "startTime": "2026-08-14T10:21:03.112Z",
            "model": model, "model_group": model.split("-20")[0],
            "custom_llm_provider": "openai",
            "metadata": {"user_api_key_team_alias": tags["team"],
                         "spend_logs_metadata": {k: v for k, v in tags.items()
                                                 if k != "team"}},
            "request_tags": ["feature:summarize"], "status": "success"})
    if kind < 0.25:  # a bare chat completion (no tags: the unattributed part of a log)
        model, _, _ = rng.choice(OPENAI)
        return json.dumps(_openai_chat(rng, rid, model))
    provider, models = rng.choice((("openai", OPENAI), ("openai", OPENAI),
                                   ("anthropic", ANTHROPIC), ("google", GOOGLE)))
    prices = rng.choice(models)
    model = prices[0]
    roll = rng.random()
    if roll < 0.02:
        model = "gpt-4o-latest" if provider == "openai" else model + "-latest"
    elif roll < 0.03:
        model = "in-house-llm-v2"
    if provider == "openai":
        response = _openai_chat(rng, rid, model)
        usage = response["usage"]
        prompt, cached = usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]
        completion = usage["completion_tokens"]
        if rng.random() < 0.3:  # the Responses API shape
            response = {"id": f"resp_{rid}", "object": "response", "created_at": 1786702863,
                        "status": "completed", "model": model,
                        "usage": {"input_tokens": prompt,
                                  "input_tokens_details": {"cached_tokens": cached},
                                  "output_tokens": completion,
                                  "output_tokens_details": {"reasoning_tokens": 0},
                                  "total_tokens": prompt + completion}}
    elif provider == "anthropic":
        uncached, cached, write = rng.randint(20, 3000), rng.choice((0, 1800)), \
            rng.choice((0, 248))
        completion = rng.randint(20, 1500)
        prompt = uncached + cached + write
        response = {"id": f"msg_{rid}", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": "end_turn",
                    "usage": {"input_tokens": uncached, "cache_read_input_tokens": cached,
                              "cache_creation_input_tokens": write,
                              "output_tokens": completion}}
    else:
        prompt, completion = rng.randint(200, 9000), rng.randint(20, 1500)
        cached = rng.choice((0, prompt // 4))
        response = {"responseId": f"g-{rid}", "modelVersion": model,
                    "usageMetadata": {"promptTokenCount": prompt,
                                      "cachedContentTokenCount": cached,
                                      "candidatesTokenCount": completion,
                                      "thoughtsTokenCount": 0,
                                      "totalTokenCount": prompt + completion}}
    wrapped: dict[str, Any] = {"timestamp": "2026-08-14T10:21:03Z", "request_id": rid,
                               "provider": provider, "tags": tags}
    cost = _cost(rng, prompt, cached, completion, prices)
    if cost is not None:
        wrapped["cost"] = cost
    wrapped["response"] = response
    return json.dumps(wrapped)


def _csv_row(rng: random.Random, n: int) -> str:
    model, _, _ = rng.choice(OPENAI)
    team, project = rng.choice(TEAMS)
    prompt, completion = rng.randint(200, 8000), rng.randint(20, 1500)
    metadata = json.dumps({"user_api_key_team_alias": team,
                           "spend_logs_metadata": {"project": project}}).replace('"', '""')
    return (f'csv-{n:08d},{rng.random() / 100:.8f},{prompt},{completion},{model},openai,'
            f'2026-08-14T10:21:03Z,"{metadata}"\n')


def generate(directory: Path, lines: int, seed: int = 7) -> list[Path]:
    """The log files: 90% of the lines as mixed JSON lines, 10% as a LiteLLM CSV export."""
    rng = random.Random(seed)
    jsonl, csv_file = directory / "mixed.jsonl", directory / "litellm.csv"
    csv_lines = lines // 10
    with jsonl.open("w") as out:
        for n in range(lines - csv_lines):
            out.write(_line(rng, n) + "\n")
    with csv_file.open("w") as out:
        out.write("request_id,spend,prompt_tokens,completion_tokens,model,"
                  "custom_llm_provider,startTime,metadata\n")
        for n in range(csv_lines - 1):  # (the header is a line)
            out.write(_csv_row(rng, n))
    return [jsonl, csv_file]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--book", help="price book file (default: the command's own choice)")
    parser.add_argument("--workers", type=int, default=0,
                        help="receipt audit --workers (0: one per core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        files = generate(Path(tmp), args.lines)
        size = sum(f.stat().st_size for f in files)
        print(f"generated {args.lines:,} lines ({size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        command = [sys.executable, "-m", "receipts", "audit", *map(str, files),
                   "--format", "json"]
        if args.book:
            command += ["--book", args.book]
        command += ["--workers", str(args.workers)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"receipt audit failed ({done.returncode}): {done.stderr.strip()}")
    report = json.loads(done.stdout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"receipt audit: {args.lines:,} lines in {elapsed:.1f} s = "
          f"{args.lines / elapsed:,.0f} lines/s; peak RSS {usage.ru_maxrss / 1024:.0f} MB")
    print(f"  CPU time {cpu:.1f} s, every process (workers: {args.workers or 'one per core'}) "
          f"= {args.lines / cpu:,.0f} lines per CPU-second")
    print(f"  records {report['records']:,}; {report['verdict']} "
          f"({report['attributable_share']}% attributable); warnings: "
          + ", ".join(f"{w['code']} {w['count']:,}" for w in report["warnings"]))
    if done.stderr.strip():
        print(f"  stderr: {done.stderr.strip()}")


if __name__ == "__main__":
    main()
