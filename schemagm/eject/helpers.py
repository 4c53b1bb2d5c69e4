"""The small functions an ejected script may call, as source; a script holds only those it uses.

Each is the textbook form of one density, divergence or estimator, written for a reader (the
equality tests check them against the compiler's own, on every spec)."""

from __future__ import annotations

__all__ = ["HELPERS", "ORDER", "needs_math"]

HELPERS: dict[str, str] = {
    "one_hot": '''
def one_hot(index, classes):
    """Class indices (or one-hot rows) as one-hot float rows."""
    if index.dtype.is_floating_point:
        return index.reshape(index.shape[0], classes)
    return F.one_hot(index.reshape(-1).long(), classes).float()
''',
    "gumbel": '''
def gumbel(u):
    """Gumbel(0, 1) noise from uniform draws."""
    u = u.clamp(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))
''',
    "logistic": '''
def logistic(u):
    """Logistic(0, 1) noise from uniform draws."""
    u = u.clamp(1e-7, 1.0 - 1e-7)
    return torch.log(u) - torch.log1p(-u)
''',
    "normal_log_prob": '''
def normal_log_prob(x, loc, std):
    """log N(x; loc, diag(std²)), summed over the dimensions of a row."""
    log_p = -0.5 * ((x - loc) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI
    return log_p.flatten(1).sum(1)
''',
    "standard_normal_log_prob": '''
def standard_normal_log_prob(x):
    """log N(x; 0, I), summed over the dimensions of a row."""
    return (-0.5 * x**2 - 0.5 * LOG_2PI).flatten(1).sum(1)
''',
    "bernoulli_log_prob": '''
def bernoulli_log_prob(x, logits):
    """log Bernoulli(x; sigmoid(logits)), summed over the dimensions of a row."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -bce.flatten(1).sum(1)
''',
    "categorical_log_prob": '''
def categorical_log_prob(x, logits):
    """log Categorical(x; softmax(logits)) of one-hot (or relaxed) rows x."""
    return (x * torch.log_softmax(logits, -1)).flatten(1).sum(1)
''',
    "kl_normal_prior": '''
def kl_normal_prior(loc, std):
    """KL(N(loc, diag(std²)) ‖ N(0, I)) per row, in closed form."""
    return (0.5 * (loc**2 + std**2 - 1.0) - torch.log(std)).flatten(1).sum(1)
''',
    "kl_categorical_prior": '''
def kl_categorical_prior(logits, log_classes):
    """KL(Categorical(softmax(logits)) ‖ uniform) per row; log_classes: Σ log K."""
    log_p = torch.log_softmax(logits, -1)
    return (log_p.exp() * log_p).flatten(1).sum(1) + log_classes
''',
    "kl_bernoulli_prior": '''
def kl_bernoulli_prior(logits):
    """KL(Bernoulli(sigmoid(logits)) ‖ Bernoulli(1/2)) per row."""
    p = torch.sigmoid(logits)
    kl = p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits) + math.log(2.0)
    return kl.flatten(1).sum(1)
''',
    "kl_normal_pair": '''
def kl_normal_pair(loc_q, std_q, loc_p, std_p):
    """KL(N(loc_q, std_q²) ‖ N(loc_p, std_p²)) per row, in closed form."""
    ratio = (std_q / std_p) ** 2
    kl = 0.5 * (ratio + ((loc_q - loc_p) / std_p) ** 2 - 1.0) - torch.log(std_q / std_p)
    return kl.flatten(1).sum(1)
''',
    "kl_categorical_pair": '''
def kl_categorical_pair(logits_q, logits_p):
    """KL(Categorical(q) ‖ Categorical(p)) per row."""
    log_q = torch.log_softmax(logits_q, -1)
    log_p = torch.log_softmax(logits_p, -1)
    return (log_q.exp() * (log_q - log_p)).flatten(1).sum(1)
''',
    "kl_bernoulli_pair": '''
def kl_bernoulli_pair(logits_q, logits_p):
    """KL(Bernoulli(q) ‖ Bernoulli(p)) per row."""
    p = torch.sigmoid(logits_q)
    a = F.logsigmoid(logits_q) - F.logsigmoid(logits_p)
    b = F.logsigmoid(-logits_q) - F.logsigmoid(-logits_p)
    return (p * a + (1 - p) * b).flatten(1).sum(1)
''',
    "bce": '''
def bce(prediction, target):
    """Binary cross-entropy of probabilities, summed over the dimensions of a row."""
    return F.binary_cross_entropy(prediction, target, reduction="none").flatten(1).sum(1)
''',
    "bce_with_logits": '''
def bce_with_logits(logits, target):
    """Binary cross-entropy of logits, summed over the dimensions of a row."""
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return loss.flatten(1).sum(1)
''',
    "sum_of_squares": '''
def sum_of_squares(prediction, target):
    """Squared distance, summed over the dimensions of a row."""
    return ((prediction - target) ** 2).flatten(1).sum(1)
''',
    "sum_of_absolutes": '''
def sum_of_absolutes(prediction, target):
    """L1 distance, summed over the dimensions of a row."""
    return (prediction - target).abs().flatten(1).sum(1)
''',
    "frozen": '''
def frozen(net, x):
    """net(x) with the network's parameters held fixed: the gradient reaches x only."""
    params = {name: p.detach() for name, p in net.named_parameters()}
    return torch.func.functional_call(net, params, (x,))
''',
    "trunk": '''
def trunk(net, layers, x, fixed):
    """The first ``layers`` layers of ``net`` (its trunk, shared by a head) at x;
    ``fixed``: with the weights held fixed, so that the gradient reaches x only."""
    body = nn.Sequential(*list(net.children())[:layers])
    if not fixed:
        return body(x)
    params = {name: p.detach() for name, p in body.named_parameters()}
    return torch.func.functional_call(body, params, (x,))
''',
    "iw_log_d": '''
def iw_log_d(logit, k):
    """Mean over groups of k samples of Σ_i sg(softmax(l)_i) log D(v_i)."""
    n = logit.shape[0]
    m = (n // k) * k
    sums = []
    if m:
        g = logit[:m].reshape(-1, k)
        sums.append((torch.softmax(g.detach(), 1) * F.logsigmoid(g)).sum(1))
    if m < n:
        r = logit[m:].reshape(1, -1)
        sums.append((torch.softmax(r.detach(), 1) * F.logsigmoid(r)).sum(1))
    return torch.cat(sums).mean()
''',
    "mmd2": '''
def mmd2(a, b, *bandwidths):
    """Biased MMD² of the rows of a and b, Gaussian kernels of the given bandwidths."""
    scales = [-0.5 / (s * s) for s in bandwidths]
    sq_a, sq_b = (a * a).sum(1), (b * b).sum(1)

    def kernel_mean(u, sq_u, v, sq_v):
        d2 = (sq_u[:, None] + sq_v[None, :] - 2.0 * u @ v.T).clamp_min(0.0)
        k = torch.exp(d2 * scales[0])
        for c in scales[1:]:
            k = k + torch.exp(d2 * c)
        return k.mean()

    aa = kernel_mean(a, sq_a, a, sq_a)
    bb = kernel_mean(b, sq_b, b, sq_b)
    return aa + bb - 2.0 * kernel_mean(a, sq_a, b, sq_b)
''',
    "gradient_penalty": '''
def gradient_penalty(net, real, fake, eps):
    """E (‖∇D(x̂)‖ − 1)² at x̂ = eps·real + (1 − eps)·fake, per row (WGAN-GP)."""
    m = eps.shape[0]
    mixed = []
    for a, b in zip(real, fake):
        e = eps.reshape(m, *([1] * (a.dim() - 1)))
        mixed.append((e * a[:m].detach() + (1 - e) * b[:m].detach()).requires_grad_(True))
    x = torch.cat([t.reshape(m, -1) for t in mixed], 1) if len(mixed) > 1 else mixed[0]
    out = net(x).reshape(m)
    grads = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norm = torch.cat([g.reshape(m, -1) for g in grads], 1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()
''',
    "update_baseline": '''
def update_baseline(nets, name, f, decay):
    """NVIL's baseline: a moving average of the batch mean of f (while training)."""
    if nets.training and torch.is_grad_enabled():
        b, is_set = getattr(nets, name)
        m = f.detach().mean()
        new = m + is_set * decay * (b - m)
        setattr(nets, name, torch.stack([new, torch.ones_like(new)]))
''',
}

#: the order helpers are printed in
ORDER = list(HELPERS)


def needs_math(names: set[str]) -> bool:
    return "kl_bernoulli_prior" in names
