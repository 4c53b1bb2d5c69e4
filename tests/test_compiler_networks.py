"""The network factories and corruptions named in the registry: sizes, parameter counts, errors."""

from __future__ import annotations

import pytest
import torch

from schemagm import registry
from schemagm.compiler import networks as N


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_every_registry_entry_resolves() -> None:
    for table in (registry.NETWORKS, registry.CORRUPTIONS):
        for entry in table.values():
            if isinstance(entry.factory, str) and entry.factory.startswith("schemagm.compiler"):
                assert callable(entry.resolve()), entry.name


def test_mlp_sizes_and_parameter_count() -> None:
    m = N.mlp(10, 3, 32, 16)
    assert m(torch.randn(4, 10)).shape == (4, 3)
    assert count(m) == 10 * 32 + 32 + 32 * 16 + 16 + 16 * 3 + 3
    img = N.mlp(5, (1, 4, 4), 8)
    assert img(torch.randn(2, 5)).shape == (2, 1, 4, 4)
    flat = N.mlp((1, 4, 4), 2)
    assert flat(torch.randn(2, 1, 4, 4)).shape == (2, 2)
    tanh = N.mlp(3, 2, 4, activation="tanh", dropout=0.1, batchnorm=True)
    assert any(isinstance(x, torch.nn.Tanh) for x in tanh.modules())
    assert any(isinstance(x, torch.nn.BatchNorm1d) for x in tanh.modules())


def test_linear_identity_embedding() -> None:
    assert count(N.linear(6, 2)) == 6 * 2 + 2
    ident = N.identity(4, 4)
    x = torch.randn(3, 4)
    assert torch.equal(ident(x), x)
    with pytest.raises(ValueError, match="as many outputs as inputs"):
        N.identity(4, 8)
    emb = N.embedding(10, 5, dim=3)
    onehot = torch.nn.functional.one_hot(torch.tensor([2, 7]), 10).float()
    out = emb(onehot)
    assert out.shape == (2, 5)
    ref = emb.out(emb.weight[[2, 7]])
    torch.testing.assert_close(out, ref)


def test_conv_encoder_and_decoder_shapes() -> None:
    enc = N.conv_encoder((1, 8, 8), 6, 4, 8)
    assert enc(torch.randn(3, 1, 8, 8)).shape == (3, 6)
    dec = N.conv_decoder(6, (2, 8, 8), 8, 4)
    assert dec(torch.randn(3, 6)).shape == (3, 2, 8, 8)
    odd = N.conv_decoder(6, (1, 7, 5), 4)
    assert odd(torch.randn(2, 6)).shape == (2, 1, 7, 5)
    with pytest.raises(ValueError, match="image"):
        N.conv_encoder(64, 6)
    with pytest.raises(ValueError, match="image"):
        N.conv_decoder(6, 64)


def test_corruptions_replay_their_draw() -> None:
    x = torch.rand(4, 5)
    g = N.gaussian_noise(0.3)
    eps = torch.randn(4, 5)
    torch.testing.assert_close(g.apply(x, eps), x + 0.3 * eps)
    m = N.masking(0.5)
    u = torch.rand(4, 5)
    torch.testing.assert_close(m.apply(x, u), torch.where(u < 0.5, torch.zeros_like(x), x))
    sp = N.salt_and_pepper(0.4)
    out = sp.apply(x, u)
    assert torch.all(out[u < 0.2] == 0) and torch.all(out[(u >= 0.2) & (u < 0.4)] == 1)
    torch.testing.assert_close(out[u >= 0.4], x[u >= 0.4])
    torch.manual_seed(0)
    big = torch.rand(20000)
    assert abs(float((N.masking(0.3)(big) == 0).float().mean()) - 0.3) < 0.02
    with pytest.raises(ValueError):
        N.masking(1.5)
