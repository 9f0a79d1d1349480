"""Sample-quality metrics for generative models: pure functions on arrays.

One module per metric; import the one you need, e.g.
`from gan_jax.metrics import fid`. Each works on samples, features or class
probabilities that the caller has already computed, so this package itself
imports nothing heavy.

  parzen            Gaussian Parzen-window log-likelihood (Goodfellow et al. 2014).
  inception_score   Inception Score from class probabilities (Salimans et al. 2016).
  fid               Frechet distance between feature Gaussians (Heusel et al. 2017).
  kid               Kernel Inception Distance (Binkowski et al. 2018).
  extrapolation     FID_inf and IS_inf: scores extrapolated over 1/N (Chong & Forsyth 2020).
  mmd               Maximum mean discrepancy with Gaussian or polynomial kernels.
  nearest_neighbor  Leave-one-out 1-NN two-sample test (Lopez-Paz & Oquab 2017).
  precision_recall  k-NN precision/recall (Kynkaanniemi et al. 2019) and
                    density/coverage (Naeem et al. 2020).
  distances         blocked Euclidean distances shared by the above.
  finite            the NaN/Inf check at every metric's entry.
  inception         the FID Inception-v3 (TF 2015-12-05 graph, as torch-fidelity):
                    pool3 features and logits of uint8 images, after its TF1 (or
                    clean-fid's) resize.
  inception_network that network in Flax.
  inception_weights its weights: torch-fidelity's .pth file (downloaded on first
                    use) -> Flax variables, cached.
  torch_checkpoint  reads PyTorch .pth state dicts into numpy, without PyTorch.
  mnist_classifier  LeNet-sized MNIST classifier (committed weights): features
                    and class probabilities for MNIST-specific FID and IS.
"""
