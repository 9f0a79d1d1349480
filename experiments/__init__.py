"""Thin absl apps, one per job; all logic lives in `gan_jax`."""
