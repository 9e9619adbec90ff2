"""ISO 4217 alphabetic currency codes: the currencies an FX rate or a reporting currency may name.

A signed FX rate is in the ledger for good, so a rate for a currency that does not exist
(``ZZZ``) is refused before it is signed, not found by an auditor. The format itself checks a
currency's shape only (spec §3.4); this list is the service's rule, shipped with it so that no
lookup goes out at run time.

The list is ISO 4217 List One as Debian's ``iso-codes`` 4.15 carries it, with the codes ISO
added since (``XCG``, Caribbean guilder, 2025; ``ZWG``, Zimbabwe Gold, 2024) and without
``XTS`` (reserved for testing) and ``XXX`` (no currency), which name no money. Codes withdrawn
recently (``HRK``, ``ANG``, ``ZWL``, ...) are kept: refusing a rate for a currency that
existed would be worse than accepting one nobody uses.
"""

from __future__ import annotations

ISO_4217: frozenset[str] = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG",
    "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
})
"""181 codes."""


def is_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 alphabetic code of a currency (or fund or metal)."""
    return code in ISO_4217
