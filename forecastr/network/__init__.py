"""The network and its inputs: windows as index arithmetic, scaling, static features,
the recurrent forecaster and its statistical starting point (Theta), what the head
outputs (quantiles, conformal widths), and the device and CPU threads it runs on."""
