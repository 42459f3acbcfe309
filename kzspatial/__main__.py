"""``python -m kzspatial`` runs the command-line interface."""

from kzspatial.cli import main

main()
