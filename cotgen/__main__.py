"""``python -m cotgen``: the same as the ``cotgen`` console script."""

from cotgen.cli.main import main

main()
