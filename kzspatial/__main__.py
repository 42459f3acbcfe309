"""``python -m kzspatial`` runs the command-line interface."""

from .cli import main

main()
