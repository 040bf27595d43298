"""``python -m neurodecode``."""

from neurodecode.cli import main

main()
