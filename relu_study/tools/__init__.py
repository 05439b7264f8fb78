"""Tools that stand on the whole library: the activation explorer (``explore``)
and the speed benchmark (``bench``)."""
