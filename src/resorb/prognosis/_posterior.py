"""The course mixture conditioned on the patient's own MRIs.

The measured volumes ``y_i`` at ``t_i`` months are ``V0 g_i(theta) + e_i`` with
``g`` the course's volume fraction and ``e_i ~ N(0, s_i^2)``, ``s_i`` the SD of
the error model of herniation volumes (relative to size) at the volume the draw
predicts, ``V0 g_i``. With the scale prior ``1/V0`` on the true baseline the
likelihood of a draw ``theta`` integrates ``V0`` (Laplace, ``s_i`` held at the
fitted ``V0``):

    log L = -1/2 (S_yy - S_gy^2 / S_gg) - 1/2 log S_gg - sum log s_i - log V0_hat,
    S_gg = sum g_i^2 / s_i^2,  S_gy = sum g_i y_i / s_i^2,  S_yy = sum y_i^2 / s_i^2,

and ``V0 | theta ~ N(V0_hat = S_gy / S_gg, 1 / S_gg)``. ``V0_hat`` and the
``s_i`` are found by fixed-point passes that start from the SD at each reading.
Both choices matter when a herniation grows: the SD at the reading gives the
larger reading a larger SD and so pulls every course towards the smaller
reading, and a flat prior on ``V0`` favours courses that shrink (its factor
``1/sqrt(S_gg)`` is larger when ``g`` is small); together they kept a forecast
below a measured 600 -> 1,350 mm3 growth. Draws are stratified by course,
so for any class weights ``pi`` the posterior probability of an event is

    P(event | MRIs) = sum_c pi_c A_c / sum_c pi_c B_c,

``B_c`` the mean likelihood of course ``c`` and ``A_c`` the mean of likelihood
times the event indicator. The same weights give the forecast of volumes, so
the headline probability, the forecast and the grades come from one model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resorb.imaging import VolumeErrorModel
from resorb.prognosis._kinetics import CLASSES, LatentDraws

__all__ = ["MRIPosterior", "condition_on_mri"]

_CHUNK = 16
#: Passes that move each reading's SD to the volume the draw predicts (see :func:`_fit`).
_SD_PASSES = 2
#: Gauss-Hermite nodes over the true baseline, and their spread in units of its Laplace SD.
_NODES = 16
_NODE_SCALE = 1.5


@dataclass(frozen=True, eq=False)
class MRIPosterior:
    """Likelihood of every latent draw given the measured volumes."""

    latent: LatentDraws
    months: np.ndarray
    volumes_mm3: np.ndarray
    sd_mm3: np.ndarray
    likelihood: np.ndarray
    v0_mean: np.ndarray
    v0_sd: np.ndarray
    _class_lik: np.ndarray = field(repr=False, default=None)

    @property
    def n_mri(self) -> int:
        return int(self.months.size)

    @property
    def class_likelihood(self) -> np.ndarray:
        """``B_c``: mean likelihood of each course (shape (4,))."""
        return self._class_lik

    def probability(self, event: np.ndarray, pi: np.ndarray):
        """Posterior probability of ``event`` (bool, per draw) under class weights ``pi``.

        ``pi`` has shape (4,) or (m, 4); returns a float or an array of m.
        """
        a = self.latent.class_means(self.likelihood * event)
        num = np.asarray(pi) @ a
        den = np.asarray(pi) @ self._class_lik
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        return float(out) if np.ndim(out) == 0 else out

    def course_probabilities(self, pi: np.ndarray) -> dict[str, float]:
        post = np.asarray(pi) * self._class_lik
        post = post / post.sum()
        return {c: float(p) for c, p in zip(CLASSES, post, strict=True)}

    def weights(self, pi: np.ndarray) -> np.ndarray:
        """Normalised weight of every draw under class weights ``pi`` (shape (4,))."""
        w = np.asarray(pi)[self.latent.cls] * self.likelihood
        total = w.sum()
        return w / total if total > 0 else np.full(w.size, 1.0 / w.size)

    def effective_sample_size(self, pi: np.ndarray) -> float:
        w = self.weights(pi)
        return float(1.0 / np.sum(w * w))


def _fraction(latent: LatentDraws, t: np.ndarray, lo: int) -> np.ndarray:
    """``V / V0`` of every draw at the chunk of dates starting at ``lo``; a series of one
    chunk (the usual few MRIs) is computed once per case and reused by every pass."""
    if t.size > _CHUNK:
        return latent.fraction(t[lo : lo + _CHUNK])
    key = ("fraction", t.tobytes())
    g = latent._cache.get(key)
    if g is None:
        g = latent.fraction(t)
        g.setflags(write=False)
        if len(latent._cache) < 256:
            latent._cache[key] = g
    return g


def _laplace(
    latent: LatentDraws,
    t: np.ndarray,
    y: np.ndarray,
    error_model: VolumeErrorModel,
    passes: int = _SD_PASSES,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre and width of the true baseline of every draw (two or more MRIs).

    The first pass weighs each reading by the SD at the reading itself; the next ones by
    the SD at the volume the draw predicts for that date (``V0 g_i`` with the previous
    pass's ``V0``).
    """
    n = latent.k.size
    v0 = None
    for _ in range(passes + 1):
        s_gg = np.zeros(n)
        s_gy = np.zeros(n)
        # Observations in chunks: memory stays bounded however many MRIs a case lists.
        for lo in range(0, t.size, _CHUNK):
            g = _fraction(latent, t, lo)  # (N, chunk)
            yc = y[lo : lo + _CHUNK]
            if v0 is None:
                sd = np.broadcast_to(error_model.sd_mm3(yc), g.shape)
            else:
                sd = error_model.sd_mm3(np.maximum(v0[:, None] * g, 0.0))
            inv_var = 1.0 / (sd * sd)
            s_gg += np.einsum("ij,ij->i", g * g, inv_var)
            s_gy += (g * inv_var) @ yc
        s_gg = np.maximum(s_gg, 1e-300)
        v0 = s_gy / s_gg
    return v0, 1.0 / np.sqrt(s_gg)


def _fit(
    latent: LatentDraws, t: np.ndarray, y: np.ndarray, error_model: VolumeErrorModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, mean and SD of the true baseline of every draw (two or more MRIs).

    Gauss-Hermite quadrature of ``prod_i N(y_i; V0 g_i, s_i(V0 g_i)^2) / V0`` over
    ``V0``, on nodes centred and scaled by :func:`_laplace`.

    The integrand is built one MRI at a time on contiguous (nodes, draws) arrays
    with variances, not SDs: ``sum_i log s_i^2`` is the log of the product of a
    chunk's variances (at most ``_CHUNK`` factors), recomputed as a sum of logs
    where that product leaves the floating-point range.
    """
    centre, width = _laplace(latent, t, y, error_model)
    width = _NODE_SCALE * width
    x, w = np.polynomial.hermite.hermgauss(_NODES)
    floor2 = error_model.floor_sd_mm3**2
    rel2 = error_model.relative_sd**2
    v_nodes = centre[None, :] + width[None, :] * x[:, None]  # (nodes, draws)
    ok = v_nodes > 0
    all_ok = bool(ok.all())
    v_pos = v_nodes if all_ok else np.where(ok, v_nodes, 1.0)
    log_h = np.log(v_pos)
    np.negative(log_h, out=log_h)
    mu = np.empty_like(v_pos)
    var = np.empty_like(v_pos)
    dev = np.empty_like(v_pos)
    for lo in range(0, t.size, _CHUNK):
        g = _fraction(latent, t, lo)  # (draws, chunk)
        yc = y[lo : lo + _CHUNK]
        prod = np.ones_like(v_pos)
        for i in range(g.shape[1]):
            np.multiply(v_pos, g[:, i], out=mu)
            np.multiply(mu, mu, out=var)
            var *= rel2
            var += floor2
            np.subtract(yc[i], mu, out=dev)
            dev *= dev
            dev /= var
            dev *= 0.5
            log_h -= dev
            prod *= var
        with np.errstate(divide="ignore", over="ignore"):
            log_var = np.log(prod)
        if not np.isfinite(log_var).all():
            mus = v_pos[:, :, None] * g[None, :, :]
            log_var = np.log(floor2 + rel2 * mus * mus).sum(axis=2)
        log_h -= 0.5 * log_var
    log_h += (np.log(w) + x**2)[:, None]
    if not all_ok:
        np.copyto(log_h, -np.inf, where=~ok)
    top = np.max(log_h, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    log_h -= top
    h = np.exp(log_h, out=log_h)
    total = h.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    loglik = np.where(total > 0, np.log(safe) + top + np.log(width), -np.inf)
    h *= v_nodes
    first = h.sum(axis=0)
    h *= v_nodes
    second = h.sum(axis=0)
    mean = np.where(total > 0, first / safe, centre)
    var_v0 = np.where(total > 0, second / safe - mean**2, width**2)
    return loglik, mean, np.sqrt(np.maximum(var_v0, 0.0))


def condition_on_mri(
    latent: LatentDraws, months, volumes_mm3, error_model: VolumeErrorModel
) -> MRIPosterior:
    """Likelihood of each latent draw given the MRIs (months after the first, mm3)."""
    t = np.asarray(months, dtype=float)
    y = np.asarray(volumes_mm3, dtype=float)
    sd = np.atleast_1d(np.asarray(error_model.sd_mm3(y), dtype=float))
    if t.size == 1:
        n = latent.k.size
        like = np.ones(n)
        v0_mean = np.full(n, y[0])
        v0_sd = np.full(n, sd[0])
    else:
        loglik, v0_mean, v0_sd = _fit(latent, t, y, error_model)
        like = np.exp(loglik - np.max(loglik))
    for a in (like, v0_mean, v0_sd):
        a.setflags(write=False)
    post = MRIPosterior(
        latent=latent,
        months=t,
        volumes_mm3=y,
        sd_mm3=sd,
        likelihood=like,
        v0_mean=v0_mean,
        v0_sd=v0_sd,
    )
    object.__setattr__(post, "_class_lik", latent.class_means(like))
    return post
