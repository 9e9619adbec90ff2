"""``python -m receipts`` runs the ``receipt`` command."""

from receipts.cli import main

main()
