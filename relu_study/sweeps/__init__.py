"""Many runs into one table: collecting run folders and the Hydra multirun
callback (``aggregate``), what tells arms apart (``arms``), comparison plots
(``plots``) and comparisons across sweeps (``compare``)."""
