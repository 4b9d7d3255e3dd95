"""Samplers (spec 11.1, 11.2, 18.3, 18.4)."""
import torch

from .dcw import dcw_apply
from .dit import dit_forward

MAX_TURBO_STEPS = 8


def turbo_schedule(shift):
    """8 t values s*u/(1+(s-1)u) for u = 1, 7/8, ..., 1/8 (python floats)."""
    s = float(min((1, 2, 3), key=lambda v: abs(v - shift)))
    out = []
    for k in range(8, 0, -1):
        u = k / 8.0
        out.append(s * u / (1.0 + (s - 1.0) * u))
    return out


def turbo_schedule_n(steps, shift):
    """Spec 18.3: n t values s*u/(1+(s-1)u), u_i = 1 - i/n, any real s > 0.

    No snapping of the shift; steps above 8 clamp to 8. For n = 8 and
    s in {1, 2, 3} this gives the same floats as turbo_schedule (checked in
    check_turbo_schedules).
    """
    if shift <= 0:
        raise ValueError("shift must be > 0")
    n = min(int(steps), MAX_TURBO_STEPS)
    if n < 1:
        raise ValueError("steps must be >= 1")
    s = float(shift)
    out = []
    for i in range(n):
        u = 1.0 - i / n
        out.append(s * u / (1.0 + (s - 1.0) * u))
    return out


def check_turbo_schedules():
    for s in (1.0, 2.0, 3.0):
        assert turbo_schedule_n(8, s) == turbo_schedule(s), s
    assert turbo_schedule_n(12, 3.0) == turbo_schedule(3.0)  # clamped to 8


def _f32(value):
    return float(torch.tensor(value, dtype=torch.float32))


def _dcw(dcw, x_next, denoised, t):
    """Apply DCW (dict with mode/scaler/high_scaler) or return x_next."""
    if not dcw:
        return x_next
    return dcw_apply(x_next, denoised, t, dcw.get("mode", "double"),
                     dcw.get("scaler", 0.05), dcw.get("high_scaler", 0.02))


def _tvec(value, batch):
    return torch.full((batch,), value, dtype=torch.float32)


def turbo_sample(cfg, w, noise, context, enc, shift=3.0, method="ode",
                 sde_noises=None, steps=None, dcw=None):
    """Returns the list of states after each step (last = x0).

    steps None: the 8-step table with the shift snapped to {1, 2, 3} (spec
    11.1); steps n: the spec 18.3 schedule, no snapping.
    sde_noises: list of n-1 tensors (fresh noise for steps 0..n-2) for "sde".
    dcw: None (off) or dict(mode, scaler, high_scaler), applied after every
    step, the last one included (spec 18.4). denoised = x - v*t with the
    step's own v and t; t is the float32-rounded schedule value, the one the
    step itself uses.
    """
    ts = turbo_schedule(shift) if steps is None else turbo_schedule_n(steps, shift)
    n = len(ts)
    x = noise.to(torch.float32).clone()
    batch = x.shape[0]
    states = []
    for i, ti in enumerate(ts):
        tt = _tvec(ti, batch)
        v = dit_forward(cfg, w, x, context, enc, tt, tt)
        t32 = _f32(ti)
        denoised = x - v * t32
        if i == n - 1:
            x_next = x - v * t32
        elif method == "ode":
            dt = float(torch.tensor(ti - ts[i + 1], dtype=torch.float32))
            x_next = x - v * dt
        else:
            t_next = float(torch.tensor(ts[i + 1], dtype=torch.float32))
            x_next = t_next * sde_noises[i] + (1.0 - t_next) * denoised
        x = _dcw(dcw, x_next, denoised, t32)
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
                cfg_interval=(0.0, 1.0), dcw=None):
    """Euler on a (shifted) linspace schedule with optional CFG+APG.

    Returns the list of states after each step (last = x0). dcw as in
    turbo_sample; denoised = x - v*t_i with v the guided velocity that
    drives the step.
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
        x_next = x - v * dt
        if dcw:
            t32 = _f32(ti)
            x_next = _dcw(dcw, x_next, x - v * t32, t32)
        x = x_next
        states.append(x.clone())
    return states
