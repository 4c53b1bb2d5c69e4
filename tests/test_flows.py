"""The flow networks of an invertible edge (zuko) against change of variables done by hand:
the exact Jacobian by autograd on small dimensions, and inverse ∘ forward = identity."""

from __future__ import annotations

import math

import pytest
import torch

from schemagm.compiler.flows import FLOW_KINDS, Dequantization, Flow, make_flow


def _flow(kind: str, d: int, c: int) -> Flow:
    torch.manual_seed(0)
    f = Flow(kind, d, c, transforms=3, hidden=(16, 16))
    with torch.no_grad():  # move away from zuko's near-identity initialisation so the Jacobian is not trivial
        for p in f.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return f.double()


@pytest.mark.parametrize("kind", FLOW_KINDS)
@pytest.mark.parametrize("context", [0, 2])
def test_log_det_is_the_autograd_jacobian(kind: str, context: int) -> None:
    d = 3
    f = _flow(kind, d, context)
    torch.manual_seed(1)
    b = torch.randn(4, d, dtype=torch.float64)
    c = torch.randn(4, context, dtype=torch.float64) if context else None
    t, ladj = f(b, c)
    for i in range(b.shape[0]):
        ci = c[i : i + 1] if c is not None else None
        jac = torch.autograd.functional.jacobian(lambda u, ci=ci: f(u[None], ci)[0][0], b[i])
        assert torch.allclose(ladj[i], torch.linalg.slogdet(jac)[1], atol=1e-4)
        jinv = torch.autograd.functional.jacobian(lambda v, ci=ci: f.inverse(v[None], ci)[0][0], t[i])
        _, ladj_inv = f.inverse(t[i : i + 1], ci)
        assert torch.allclose(ladj_inv[0], torch.linalg.slogdet(jinv)[1], atol=1e-4)
    # the density of t by change of variables: log N(f⁻¹(t)) + log|det ∂f⁻¹/∂t|
    back, ladj_inv = f.inverse(t, c)
    log_p = -0.5 * (back**2).sum(-1) - 0.5 * d * math.log(2 * math.pi) + ladj_inv
    by_hand = -0.5 * (b**2).sum(-1) - 0.5 * d * math.log(2 * math.pi) - ladj
    assert torch.allclose(log_p, by_hand, atol=1e-4)


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_inverse_of_forward_is_identity(kind: str) -> None:
    f = _flow(kind, 4, 3)
    torch.manual_seed(2)
    b, c = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    t, ladj = f(b, c)
    back, ladj_inv = f.inverse(t, c)
    assert torch.allclose(back, b, atol=1e-5)
    assert torch.allclose(ladj + ladj_inv, torch.zeros(16, dtype=torch.float64), atol=1e-5)
    assert not torch.allclose(t, b, atol=1e-2)  # the flow does something


def test_iaf_samples_in_the_fast_direction() -> None:
    # IAF's f is MAF's data->noise map (one pass); MAF's f is its inverse
    torch.manual_seed(0)
    maf = Flow("maf", 3, 0, transforms=1, hidden=(8,))
    iaf = Flow("iaf", 3, 0, transforms=1, hidden=(8,))
    iaf.lazy.transform.load_state_dict(maf.lazy.state_dict())  # zuko.flows.LazyInverse wraps MAF's transform
    x = torch.randn(5, 3)
    assert torch.allclose(iaf(x)[0], maf.inverse(x)[0], atol=1e-6)


def test_bad_flows_are_refused() -> None:
    with pytest.raises(ValueError, match="coupling"):
        Flow("realnvp", 1)
    with pytest.raises(ValueError, match="unknown flow"):
        Flow("glow", 2)
    with pytest.raises(ValueError, match="context"):
        Flow("maf", 2, 3)(torch.zeros(1, 2))
    assert make_flow("nsf", 2, 0, 8, transforms=1).kind == "nsf"


def test_uniform_dequantization_density_and_bins() -> None:
    dq = Dequantization(3, 16.0)
    x = torch.tensor([[0.0, 0.5, 1.0]]).repeat(100, 1)
    v, log_q = dq.rsample_with(x, dq.noise(x))
    assert torch.equal(dq.quantize(v), x)
    assert torch.allclose(log_q, torch.full((100,), 3 * math.log(16.0)))


def test_variational_dequantization_density_by_hand() -> None:
    torch.manual_seed(0)
    flow = Flow("maf", 2, 2, transforms=2, hidden=(8,)).double()
    dq = Dequantization(2, 4.0, flow)
    x = torch.tensor([[0.25, 0.75], [0.0, 1.0]], dtype=torch.float64)
    e = torch.randn(2, 2, dtype=torch.float64)
    v, log_q = dq.rsample_with(x, e)
    assert torch.equal(dq.quantize(v), x)
    for i in range(2):
        # v as a function of e: log q(v) = log N(e) - log|det ∂v/∂e|
        g = lambda ee, i=i: x[i] + torch.sigmoid(flow(ee[None], x[i : i + 1])[0][0]) / 4.0  # noqa: E731
        jac = torch.autograd.functional.jacobian(g, e[i])
        expect = -0.5 * (e[i] ** 2).sum() - math.log(2 * math.pi) - torch.linalg.slogdet(jac)[1]
        assert torch.allclose(log_q[i], expect, atol=1e-6)
