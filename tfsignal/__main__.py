"""``python -m tfsignal``: the ``tfsignal`` command."""

from tfsignal.cli import main

raise SystemExit(main())
