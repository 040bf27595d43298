"""``python -m neurodecode.cli`` (used by ``accelerate launch -m neurodecode.cli``)."""

from neurodecode.cli import main

main()
