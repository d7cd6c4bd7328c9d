"""`python -m forecastr` runs the command-line interface."""

from forecastr.cli import main

main()
