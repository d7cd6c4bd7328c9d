"""The `forecastr` command: its commands and exit statuses, the flags built from
FitConfig, stdout, and everything the user reads on a terminal."""
