"""What makes the verifier fast, apart from the rules: it may skip repeated work or decline,
never decide. Worker processes (:mod:`~verifier.fast.workers`, :mod:`~verifier.fast.batches`),
framing runs of receipts in one step (:mod:`~verifier.fast.runs`) and compact duplicate
digests (:mod:`~verifier.fast.dedup`). Every check of spec §9.2 is in
:mod:`verifier.steps`, :mod:`verifier.preamble`, :mod:`verifier.chain` and
:mod:`verifier.checkpoints`, which this layer calls.
"""
