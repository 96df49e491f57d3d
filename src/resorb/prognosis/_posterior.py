"""The course mixture conditioned on the patient's own MRIs.

The measured volumes ``y_i`` at ``t_i`` months are ``V0 g_i(theta) + e_i`` with
``g`` the course's volume fraction and ``e_i ~ N(0, SD(y_i)^2)`` from the
error model of herniation volumes (relative to size). With a flat prior on the
true baseline ``V0`` the likelihood of a draw ``theta`` integrates ``V0``
analytically:

    log L = -1/2 (S_yy - S_gy^2 / S_gg) - 1/2 log S_gg,
    S_gg = sum g_i^2 / s_i^2,  S_gy = sum g_i y_i / s_i^2,  S_yy = sum y_i^2 / s_i^2,

and ``V0 | theta ~ N(S_gy / S_gg, 1 / S_gg)``. Draws are stratified by course,
so for any class weights ``pi`` the posterior probability of an event is

    P(event | MRIs) = sum_c pi_c A_c / sum_c pi_c B_c,

``B_c`` the mean likelihood of course ``c`` and ``A_c`` the mean of likelihood
times the event indicator. The same weights give the forecast of volumes, so
the headline probability, the forecast and the grades come from one model.
Using each measurement's own SD (rather than the SD at the predicted volume)
keeps the integral closed-form; it is an approximation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resorb.imaging import VolumeErrorModel
from resorb.prognosis._kinetics import CLASSES, LatentDraws

__all__ = ["MRIPosterior", "condition_on_mri"]

_CHUNK = 16


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


def condition_on_mri(latent: LatentDraws, months, volumes_mm3,
                     error_model: VolumeErrorModel) -> MRIPosterior:
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
        inv_var = 1.0 / (sd * sd)
        s_gg = np.zeros(latent.k.size)
        s_gy = np.zeros(latent.k.size)
        # Observations in chunks: memory stays bounded however many MRIs a case lists.
        for lo in range(0, t.size, _CHUNK):
            g = latent.fraction(t[lo:lo + _CHUNK])          # (N, chunk)
            s_gg += (g * g) @ inv_var[lo:lo + _CHUNK]
            s_gy += g @ (y[lo:lo + _CHUNK] * inv_var[lo:lo + _CHUNK])
        s_yy = float(np.sum(y * y * inv_var))
        s_gg = np.maximum(s_gg, 1e-300)
        loglik = -0.5 * (s_yy - s_gy * s_gy / s_gg) - 0.5 * np.log(s_gg)
        like = np.exp(loglik - np.max(loglik))
        v0_mean = s_gy / s_gg
        v0_sd = 1.0 / np.sqrt(s_gg)
    for a in (like, v0_mean, v0_sd):
        a.setflags(write=False)
    post = MRIPosterior(latent=latent, months=t, volumes_mm3=y, sd_mm3=sd, likelihood=like,
                        v0_mean=v0_mean, v0_sd=v0_sd)
    object.__setattr__(post, "_class_lik", latent.class_means(like))
    return post
