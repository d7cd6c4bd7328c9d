"""forecastr tune: searching fit's options for a data set (space, holdout scoring, search)."""
