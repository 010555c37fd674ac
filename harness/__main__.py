"""Allow ``python -m harness`` as an alias of the ``ptycho-harness`` command."""

from harness.cli import main

raise SystemExit(main())
