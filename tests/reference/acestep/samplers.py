"""Samplers (spec 11.1, 11.2)."""
import torch

from .dit import dit_forward


def turbo_schedule(shift):
    """8 t values s*u/(1+(s-1)u) for u = 1, 7/8, ..., 1/8 (python floats)."""
    s = float(min((1, 2, 3), key=lambda v: abs(v - shift)))
    out = []
    for k in range(8, 0, -1):
        u = k / 8.0
        out.append(s * u / (1.0 + (s - 1.0) * u))
    return out


def _tvec(value, batch):
    return torch.full((batch,), value, dtype=torch.float32)


def turbo_sample(cfg, w, noise, context, enc, shift=3.0, method="ode",
                 sde_noises=None):
    """Returns the list of states after each of the 8 steps (last = x0).

    sde_noises: list of 7 tensors (fresh noise for steps 0..6) for "sde".
    """
    ts = turbo_schedule(shift)
    n = len(ts)
    x = noise.to(torch.float32).clone()
    batch = x.shape[0]
    states = []
    for i, ti in enumerate(ts):
        tt = _tvec(ti, batch)
        v = dit_forward(cfg, w, x, context, enc, tt, tt)
        if i == n - 1:
            x = x - v * float(torch.tensor(ti, dtype=torch.float32))
        elif method == "ode":
            dt = float(torch.tensor(ti - ts[i + 1], dtype=torch.float32))
            x = x - v * dt
        else:
            t_next = float(torch.tensor(ts[i + 1], dtype=torch.float32))
            x0 = x - v * float(torch.tensor(ti, dtype=torch.float32))
            x = t_next * sde_noises[i] + (1.0 - t_next) * x0
        states.append(x.clone())
    return states


def base_schedule(steps, shift):
    ts = [1.0 - k / steps for k in range(steps + 1)]  # linspace(1, 0, steps+1)
    ts[-1] = 0.0
    if shift != 1.0:
        ts = [shift * t / (1.0 + (shift - 1.0) * t) for t in ts]
    return ts


def apg(v_cond, v_uncond, momentum, guidance, norm_threshold=2.5, eta=0.0,
        momentum_coef=-0.75):
    """Adaptive projected guidance over the time axis (dim 1 of [B,T,C]).

    momentum: dict holding the running buffer (key "m"), updated in place.
    """
    d = v_cond - v_uncond
    m = momentum.get("m")
    m = d if m is None else d + momentum_coef * m
    momentum["m"] = m
    d = m
    norm = d.norm(p=2, dim=1, keepdim=True)
    d = d * torch.clamp(norm_threshold / norm, max=1.0)
    # projection in float64
    d64 = d.to(torch.float64)
    vc64 = v_cond.to(torch.float64)
    u = vc64 / vc64.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
    d_par = (d64 * u).sum(dim=1, keepdim=True) * u
    d_orth = d64 - d_par
    d_par = d_par.to(torch.float32)
    d_orth = d_orth.to(torch.float32)
    return v_cond + (guidance - 1.0) * (d_orth + eta * d_par)


def base_sample(cfg, w, noise, context, enc, steps, shift=1.0, guidance=7.0,
                cfg_interval=(0.0, 1.0)):
    """Euler on a (shifted) linspace schedule with optional CFG+APG.

    Returns the list of states after each step (last = x0).
    """
    ts = base_schedule(steps, shift)
    x = noise.to(torch.float32).clone()
    batch = x.shape[0]
    use_cfg = guidance > 1.0
    if use_cfg:
        null = w["null_condition_emb"]  # [1, 1, H]
        enc_uncond = null.expand(enc.shape[0], enc.shape[1], enc.shape[2])
        enc_both = torch.cat([enc, enc_uncond], dim=0)
        ctx_both = torch.cat([context, context], dim=0)
    momentum = {}
    states = []
    for i in range(steps):
        ti, tn = ts[i], ts[i + 1]
        if use_cfg:
            tt = _tvec(ti, 2 * batch)
            v_all = dit_forward(cfg, w, torch.cat([x, x], dim=0), ctx_both, enc_both, tt, tt)
            v_cond, v_uncond = v_all[:batch], v_all[batch:]
            if cfg_interval[0] <= ti <= cfg_interval[1]:
                v = apg(v_cond, v_uncond, momentum, guidance)
            else:
                v = v_cond
        else:
            tt = _tvec(ti, batch)
            v = dit_forward(cfg, w, x, context, enc, tt, tt)
        dt = float(torch.tensor(ti - tn, dtype=torch.float32))
        x = x - v * dt
        states.append(x.clone())
    return states
