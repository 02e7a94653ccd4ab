"""``python -m traindx.cli``: the ``traindx`` command."""

from traindx.cli import main

raise SystemExit(main())
