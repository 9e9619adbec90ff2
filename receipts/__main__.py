"""``python -m receipts`` runs the ``receipt`` command."""

from receipts.cli.main import main

main()
