"""``python -m medlake.cli`` runs the ``medlake`` command."""

from medlake.cli import main

main()
