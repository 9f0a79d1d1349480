"""The source documents' published numbers, as data, with what their +- means.

Goodfellow et al. 2014, Table 1: Parzen-window
log-likelihood of the MNIST test set in nats, +- the standard error of the
mean across test examples.

Aakash's slides "Analysis of GAN and its variants" (IIT Tirupati): MMD and
1-NN accuracy of their MLP GAN and MLP WGAN on MNIST. The slides do not say how these were
measured; the authors' released code (github.com/nimRobotics/GANs: gan.py,
wgan.py, metric.py, plot_met.py) computes them on every training iteration,
between that iteration's 100 real digits and the 100 generated ones, and
prints np.mean and np.var over all iterations of the 200 epochs. So the +-
is most likely a variance across training iterations, not a standard
deviation over runs (a standard deviation of 0.0122 would be below the
binomial noise of a 1-NN accuracy on 200 points, about 0.033).

The slides also show DCGAN face samples after epochs 1, 50, 100, 150 and 200,
with no numbers.
"""

from typing import NamedTuple


class Estimate(NamedTuple):
  """A published value and its +- figure (whose meaning the table states)."""

  value: float
  spread: float


# Goodfellow et al. 2014, Table 1 (MNIST column).
PARZEN_MNIST = {
  'DBN': Estimate(138.0, 2.0),
  'Stacked CAE': Estimate(121.0, 1.6),
  'Deep GSN': Estimate(214.0, 1.1),
  'Adversarial nets': Estimate(225.0, 2.0),
}
PARZEN_MNIST_SPREAD = 'standard error of the mean across test examples'


class MinibatchScores(NamedTuple):
  """The four columns of Aakash's slides: MMD and 1-NN accuracy (overall, on real, on fake)."""

  mmd: float
  one_nn: float
  one_nn_real: float
  one_nn_fake: float


# The table of Aakash's slides, keyed by this project's config names.
MMD_1NN_MNIST = {
  'gan_mnist': MinibatchScores(
    Estimate(0.1964, 0.0064),
    Estimate(0.6835, 0.0122),
    Estimate(0.5346, 0.0129),
    Estimate(0.8324, 0.0176),
  ),
  'wgan_mnist': MinibatchScores(
    Estimate(0.1079, 0.0016),
    Estimate(0.6788, 0.0019),
    Estimate(0.5409, 0.0198),
    Estimate(0.8167, 0.0209),
  ),
}
MMD_1NN_MNIST_SPREAD = "variance across training iterations (per the authors' code)"

# The DCGAN face figure of Aakash's slides: the epochs at which it shows
# samples, and its data: 683 photos, read in batches of 64 (11 an epoch, the last one partial).
DCGAN_FACES_EPOCHS = (1, 50, 100, 150, 200)
DCGAN_FACES_NUM_IMAGES = 683
DCGAN_FACES_BATCH_SIZE = 64
