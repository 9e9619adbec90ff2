"""Pricing: from a provider's usage object to billable categories, and the price books.

Usage normalization (``usage``, ``usage_reader``), model names, service tiers and categories
decide *what* was billed; ``books``, ``genai_book``, ``overrides``, ``book_update`` and
``book_files`` make and store the signed price books; ``display`` shows them. The pricing rule
itself (book in force, cost, FX) is the verifier's, imported from ``verifier``.
"""
