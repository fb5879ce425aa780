"""``python -m fedmarket`` runs the command line."""

from fedmarket.cli import main

main()
