"""What both LeJEPA digits examples share: data, augmentation, evaluation.

scikit-learn's bundled digits (1797 images of 8x8 pixels, no download), split
75/25 with a fixed seed. The evaluation is framework-free: it takes NumPy
representations and embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import sigreg
import sigreg.targets


@dataclass(frozen=True)
class Recipe:
    """The training recipe, the same in PyTorch and JAX."""

    steps: int = 1500
    batch: int = 256
    global_views: int = 2  # the whole image, shifted: the prediction targets come from these
    local_views: int = 4  # a zoomed crop of 5 to 6 pixels a side: pulled to the global views
    hidden: int = 256
    representation: int = 32  # the backbone's output: what the probes see
    embedding: int = 32  # the projector's output: what the loss sees
    learning_rate: float = 5e-3
    weight_decay: float = 1e-2
    num_slices: int = 256
    lam: float = 0.05
    seed: int = 0
    regulariser: str = "sigreg"  # or "visreg" (sigreg.visreg in lejepa_loss)
    unbiased: bool = False  # SIGReg's U-statistic form (EppsPulley(unbiased=True))
    # SIGReg's target (target= of lejepa_loss): None for N(0, I); "rdmreg" for Rectified
    # LpJEPA's, the rectified Laplace of its authors' defaults, with rectified embeddings.
    target: str | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            known = ", ".join(repr(name) for name in TARGETS)
            raise ValueError(f"target must be one of {known}; got {self.target!r}")

    @property
    def rectified(self) -> bool:
        """Whether the embeddings are ReLU(projector output), as Rectified LpJEPA's (its Figure 1:
        both the prediction loss and the regulariser see the rectified embeddings)."""
        return self.target == "rdmreg"

    def target_law(self) -> sigreg.targets.Target | None:
        """The ``sigreg.targets`` object of ``target`` (None: N(0, I))."""
        return TARGETS[self.target]

    def target_options(self) -> dict:
        """``{"target": law}`` for ``sigreg.sigreg`` and ``lejepa_loss``, or nothing for N(0, I)."""
        return {} if self.target is None else {"target": self.target_law()}

    def loss_options(self, step: object) -> dict:
        """The options of ``sigreg.lejepa_loss`` besides ``lam``: the regulariser and its slices."""
        options = {"num_slices": self.num_slices, "seed": step, "regulariser": self.regulariser}
        if self.unbiased:
            options["unbiased"] = True
        return options | self.target_options()


# RDMReg's target at its authors' defaults: p = 1, mu = 0, sigma = sigma_GN(1) = 1/sqrt(2)
# (github.com/YilunKuang/rectified-lp-jepa, README.md); half the coordinates exactly 0.
TARGETS: dict[str | None, sigreg.targets.Target | None] = {
    None: None,
    "rdmreg": sigreg.targets.RectifiedGeneralizedNormal(p=1.0, mu=0.0),
}


def load(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test images (float32 in [0, 1], flattened) and labels."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return x_train, x_test, y_train, y_test


def _photometric(views: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Per-image intensity and per-pixel noise on (B, 8, 8) views.
    b = views.shape[0]
    return views * rng.uniform(0.7, 1.3, size=(b, 1, 1)) + rng.normal(0.0, 0.1, size=views.shape)


def augment(images: np.ndarray, views: int, rng: np.random.Generator) -> np.ndarray:
    """(B, 64) images to (V, B, 64) global views: shifts by up to one pixel, intensity and noise."""
    b = images.shape[0]
    padded = np.pad(images.reshape(b, 8, 8), ((0, 0), (1, 1), (1, 1)))
    rows = np.arange(8)
    out = []
    for _ in range(views):
        dy, dx = rng.integers(0, 3, size=(2, b))
        shifted = padded[
            np.arange(b)[:, None, None], (dy[:, None] + rows)[:, :, None], (dx[:, None] + rows)[:, None, :]
        ]
        out.append(_photometric(shifted, rng).reshape(b, 64))
    return np.stack(out).astype(np.float32)


def local_crops(images: np.ndarray, views: int, rng: np.random.Generator) -> np.ndarray:
    """(B, 64) images to (V, B, 64) local views: a random square crop of 5 or 6 pixels a side,
    enlarged back to 8 x 8 (nearest pixel), then intensity and noise. The digits' analogue of
    LeJEPA's small crops: the same input size, so they embed to the same D."""
    b = images.shape[0]
    square = images.reshape(b, 8, 8)
    out = []
    for _ in range(views):
        size = rng.integers(5, 7, size=b)  # 5 or 6
        top, left = (rng.integers(0, 9 - size) for _ in range(2))
        # Output pixel i reads crop pixel floor(i * size / 8): nearest-pixel enlargement.
        rows = top[:, None] + (np.arange(8)[None, :] * size[:, None]) // 8
        cols = left[:, None] + (np.arange(8)[None, :] * size[:, None]) // 8
        crop = square[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
        out.append(_photometric(crop, rng).reshape(b, 64))
    return np.stack(out).astype(np.float32)


def batches(x: np.ndarray, recipe: Recipe):
    """Yield (step, global views, local views) of forever-fresh augmented batches, fixed seed."""
    rng = np.random.default_rng(recipe.seed)
    for step in range(recipe.steps):
        images = x[rng.choice(len(x), size=recipe.batch, replace=False)]
        yield step, augment(images, recipe.global_views, rng), local_crops(images, recipe.local_views, rng)


NULL_DRAWS = 99  # N(0, I) draws behind the SIGReg p-value: its floor is 1 / (NULL_DRAWS + 1)
EVAL_SLICES = 1024  # slices of the SIGReg value and p-value of the test embeddings


def normality_test(embeddings: np.ndarray) -> sigreg.TestResult:
    """``sigreg.test`` of embeddings (N, D) on EVAL_SLICES fixed slices. The p-value says what
    N(0, I) data of this N and D would score with the same slices: Monte Carlo, as the reports
    describe it (its floor is 1 / (NULL_DRAWS + 1))."""
    return sigreg.test(
        embeddings.astype(np.float64),
        num_slices=EVAL_SLICES,
        seed=0,
        method="monte_carlo",
        n_resamples=NULL_DRAWS,
    )


def effective_rank(e: np.ndarray) -> float:
    """exp(entropy) of the normalised covariance spectrum: 1 for a line, D for a round cloud."""
    ev = np.clip(np.linalg.eigvalsh(np.cov(e, rowvar=False)), 0.0, None)
    if ev.sum() <= 0:
        return 0.0
    p = ev[ev > 0] / ev.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def evaluate(
    rep_train: np.ndarray,
    rep_test: np.ndarray,
    emb_test: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
    target: sigreg.targets.Target | None = None,
) -> dict[str, float]:
    """Linear probe, 5-NN accuracy and effective rank of the representations (what the probes
    see); effective rank, scale and SIGReg of the test embeddings (what the loss sees). The
    scale shows what the effective rank, which ignores scale, cannot: a collapse to a point.
    With a ``target`` (the encoder was trained towards it), also the statistic against it and
    the sparsity: the fraction of exact zeros of the test embeddings."""
    scaler = StandardScaler().fit(rep_train)
    a, b = scaler.transform(rep_train), scaler.transform(rep_test)
    probe = LogisticRegression(max_iter=5000).fit(a, y_train).score(b, y_test)
    knn = KNeighborsClassifier(n_neighbors=5).fit(a, y_train).score(b, y_test)
    result = normality_test(emb_test)
    metrics = {
        "linear probe": 100 * probe,
        "5-NN": 100 * knn,
        "representation rank": effective_rank(rep_test),
        "embedding rank": effective_rank(emb_test),
        "embedding std": float(emb_test.std(axis=0).mean()),  # mean over dimensions
        "SIGReg": float(result.statistic),
        "SIGReg p-value": float(result.pvalue),
    }
    if target is not None:
        against = sigreg.sigreg(emb_test.astype(np.float64), num_slices=EVAL_SLICES, seed=0, target=target)
        metrics["SIGReg (target)"] = float(against)
        metrics["sparsity"] = float(np.mean(emb_test == 0.0))
    return metrics


def pca_baseline(recipe: Recipe) -> dict[str, float]:
    """PCA of the pixels with as many components as the representation (standardised)."""
    x_train, x_test, y_train, y_test = load(recipe.seed)
    pca = PCA(recipe.representation, random_state=recipe.seed).fit(x_train)
    r_train, r_test = pca.transform(x_train), pca.transform(x_test)
    scale = r_train.std(axis=0)
    return evaluate(r_train, r_test, r_test / scale, y_train, y_test)
