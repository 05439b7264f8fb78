"""One experiment from a config: the schema and its validation (``config``), the
run itself (``experiment``), run folders written atomically and read back
(``folders``), per-run figures (``plots``) and the Hydra command line (``cli``,
the only module of the library that imports Hydra)."""
