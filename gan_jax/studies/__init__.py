"""Studies built on the library: the toy studies, the theory of the game, the
optimal-discriminator study, the reproduced tables and the benchmarks.

The library (`gan_jax` outside this package) never imports from here.
"""
