"""``python -m verifier`` runs the auditor's commands (verify, rollup, inspect) alone."""

from verifier.cli import main

main()
