"""``python -m verifier`` runs the auditor's commands (verify, rollup, inspect) alone.

It imports nothing of the service: an auditor can run the verifier from its own code only.
"""

from verifier.cli import COMMANDS
from verifier.edge import command_line

command_line("receipt", "The offline verifier of receipt ledgers.", COMMANDS).main()
