"""gan_jax: Generative Adversarial Networks in JAX/Flax."""
