"""Which model was billed: resolve what an agent sent against a price book.

Agents send model names the way their SDK or gateway spells them: dated snapshots
(``claude-sonnet-4-5-20250929``, ``gpt-4o-2024-08-06``), aliases (``claude-sonnet-4-0``),
gateway prefixes (``openai/gpt-4o``), Gemini resource names (``models/gemini-2.5-pro``), Vertex
(``claude-sonnet-4-5@20250929``), Bedrock (``us.anthropic.claude-sonnet-4-5-20250929-v1:0``) and
provider names from OpenTelemetry (``gcp.vertex_ai``, ``aws.bedrock``, ``azure.ai.openai``).
The receipt keeps the name as sent (``model_requested``) and the book's name (``model``).

Resolution only ever answers with a (provider, model) the book lists, so its result is always
checked by the book: a name it cannot place stays as sent and prices as ``unknown_model``
(``cost`` null, counted apart), never as a silent $0. Rules, in order, for each spelling of the
name: the book's own ids (case-insensitive), then ``genai-prices``' match rules (the same data
the book was made from, when installed), which know each provider's aliases and snapshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verifier.pricing import PriceBook

PROVIDER_ALIASES: dict[str, str] = {
    "azure_openai": "azure", "azure-openai": "azure", "azure.ai.openai": "azure",
    "az.ai.openai": "azure", "azure_ai": "azure", "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "gemini": "google", "google-ai": "google", "google_ai_studio": "google", "vertex": "google",
    "vertex_ai": "google", "vertexai": "google", "google-vertex": "google",
    "gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google",
    "bedrock": "aws", "aws.bedrock": "aws", "aws-bedrock": "aws", "amazon-bedrock": "aws",
    "bedrock_converse": "aws",
    "x_ai": "x-ai", "xai": "x-ai",
    "mistral_ai": "mistral", "mistralai": "mistral",
    "moonshot_ai": "moonshotai", "moonshot": "moonshotai",
    "chatgpt": "chatgpt-web",
}
"""Other spellings of the book's provider ids (OpenTelemetry ``gen_ai.provider.name`` values,
LiteLLM and SDK names)."""

SEAT_MODELS_FROM = {"chatgpt-web": "openai"}
"""Seat providers whose model names follow another provider's (for alias matching)."""

_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|au|jp|in|ca|us-gov|global)\.)?"
    r"(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|nvidia"
    r"|moonshotai|zai)\.(?P<model>.+?)(?:-v\d+)?(?::\d+)?$"
)
_VERTEX_AT = re.compile(r"^(?P<model>[^@]+)@(?P<version>.+)$")


@dataclass(frozen=True)
class ResolvedName:
    """The outcome: the book's (provider, model) when ``resolved``, else the name as sent."""

    provider: str
    model: str
    requested: str
    resolved: bool
    how: str


def normalize_provider(provider: str) -> str:
    """The book's provider id for a provider spelling (unknown ones lowercased as is)."""
    name = provider.strip().lower()
    return PROVIDER_ALIASES.get(name, name)


def spellings(model: str) -> list[str]:
    """The name as sent, then the same name without gateway, resource and platform wrapping."""
    out = [model.strip(), model.strip().lower()]
    name = out[-1]
    if "models/" in name:
        name = name.rsplit("models/", 1)[1]
        out.append(name)
    head, sep, rest = name.partition("/")
    if sep and rest and (head in PROVIDER_ALIASES or head in PROVIDER_ALIASES.values()
                         or head in _KNOWN_PREFIXES):
        name = rest
        out.append(name)
    vertex = _VERTEX_AT.match(name)
    if vertex:
        out += [f"{vertex['model']}-{vertex['version']}", vertex["model"]]
    bedrock = _BEDROCK.match(name)
    if bedrock:
        out.append(bedrock["model"])
    return [s for s in dict.fromkeys(out) if s]


_KNOWN_PREFIXES = frozenset({"openai", "anthropic", "google", "azure", "aws", "deepseek",
                             "mistral", "groq", "x-ai", "cohere", "perplexity", "meta",
                             "together", "fireworks"})


class ModelNames:
    """Resolver for one book (keeps a per-name cache; make one per book)."""

    def __init__(self, book: PriceBook, catalog: Any | None = None) -> None:
        self.book = book
        self._catalog = catalog if catalog is not None else _default_catalog()
        self._lower: dict[tuple[str, str], str] = {
            (p, m.lower()): m for p, m in book.entries
        }
        self._cache: dict[tuple[str, str], ResolvedName] = {}

    def resolve(self, provider: str, model: str) -> ResolvedName:
        """The billed (provider, model) for what the agent sent."""
        key = (provider, model)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(provider, model)
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit

    def _resolve(self, provider: str, model: str) -> ResolvedName:
        pid = normalize_provider(provider)
        names = spellings(model)
        if not pid:
            pid = self._provider_from_name(model)
        for name in names:
            exact = self._lower.get((pid, name.lower()))
            if exact is not None:
                how = "exact" if name == model else f"spelling {name!r}"
                return ResolvedName(pid, exact, model, True, how)
        if self._catalog is not None:
            match_provider = SEAT_MODELS_FROM.get(pid, pid)
            for name in names:
                model_id = self._catalog.find(match_provider, name)
                if model_id is not None and (pid, model_id) in self.book.entries:
                    return ResolvedName(pid, model_id, model, True,
                                        f"genai-prices match rule for {name!r}")
        return ResolvedName(pid, model, model, False,
                            f"no {pid}/{model} in price book {self.book.id.hex()[:12]}")

    def _provider_from_name(self, model: str) -> str:
        head, sep, _ = model.strip().lower().partition("/")
        if sep and head:
            return normalize_provider(head)
        if self._catalog is not None:
            return str(self._catalog.provider_for(model) or "")
        return ""


class GenaiCatalog:
    """``genai-prices``' model match rules, used only to map a name to a model id."""

    def __init__(self, providers: list[Any]) -> None:
        self.providers = providers
        self._by_id = {p.id: p for p in providers}

    def find(self, provider: str, name: str) -> str | None:
        """The genai model id ``name`` matches for ``provider`` (with its fallbacks), or None."""
        found = self._by_id.get(provider)
        if found is None:
            return None
        info = found.find_model(name, all_providers=self.providers)
        return None if info is None else str(info.id)

    def provider_for(self, name: str) -> str | None:
        """The provider whose model-name pattern matches ``name`` (genai's inference)."""
        for provider in self.providers:
            if provider.model_match is not None and provider.model_match.is_match(name.lower()):
                return str(provider.id)
        return None


_CATALOG: list[GenaiCatalog | None] = []


def _default_catalog() -> GenaiCatalog | None:
    """The installed ``genai-prices`` rules, or None on an install without them."""
    if not _CATALOG:
        try:
            from genai_prices.data import providers
        except ImportError:  # base install: book ids and spellings only
            _CATALOG.append(None)
        else:
            _CATALOG.append(GenaiCatalog(list(providers)))
    return _CATALOG[0]
