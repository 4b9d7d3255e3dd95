"""The 5 Hz LM's per-step logits processing (spec 14.8).

Every function takes a 1-D float32 logits vector [V] and returns a new one;
removed tokens become -inf. The steps run in this order:

  1. cfg_combine        uncond + s * (cond - uncond), only when s > 1
  2. apply_allowed      the constrained-decoding mask (spec 14.6), given
  3. repetition_penalty divide positive / multiply negative logits of the
                        already-seen ids (each distinct id once), p != 1
  4. top_k              drop logits below the k-th largest (k > 0, k < V)
  5. top_p              sort descending, softmax in fp32, cumulative sum;
                        remove a token when the cumulative probability of the
                        tokens ranked above it already exceeds p (0 < p < 1):
                        the token that crosses p stays, the top one always
  6. temperature        probs = softmax(logits / T) for T > 0; T = 0: argmax
"""
import torch

NEG_INF = float("-inf")


def cfg_combine(cond, uncond, scale):
    """Classifier-free guidance on logits, fp32. scale <= 1: cond unchanged."""
    cond = cond.to(torch.float32)
    if scale <= 1.0:
        return cond.clone()
    return uncond.to(torch.float32) + scale * (cond - uncond.to(torch.float32))


def apply_allowed(logits, allowed):
    """allowed: bool/int [V] (nonzero = allowed) or None; others -> -inf."""
    out = logits.clone()
    if allowed is not None:
        out[~allowed.to(torch.bool)] = NEG_INF
    return out


def repetition_penalty(logits, seen_ids, penalty):
    out = logits.clone()
    if penalty == 1.0 or seen_ids is None or len(seen_ids) == 0:
        return out
    ids = torch.unique(torch.as_tensor(seen_ids, dtype=torch.int64))
    vals = out[ids]
    out[ids] = torch.where(vals < 0, vals * penalty, vals / penalty)
    return out


def top_k(logits, k):
    out = logits.clone()
    if k <= 0 or k >= out.numel():
        return out
    kth = torch.topk(out, k).values[-1]
    out[out < kth] = NEG_INF
    return out


def top_p(logits, p):
    out = logits.clone()
    if not (0.0 < p < 1.0):
        return out
    order = torch.argsort(out, descending=True)
    probs = torch.softmax(out[order].to(torch.float32), dim=-1)
    cum = torch.cumsum(probs, dim=-1)
    above = torch.zeros_like(cum)
    above[1:] = cum[:-1]  # cumulative probability of the tokens ranked above
    remove_sorted = above > p
    remove_sorted[0] = False
    remove = torch.zeros_like(remove_sorted)
    remove[order] = remove_sorted
    out[remove] = NEG_INF
    return out


def temperature_probs(logits, temperature):
    """softmax(logits / T) in fp32; T must be > 0."""
    assert temperature > 0
    return torch.softmax(logits.to(torch.float32) / temperature, dim=-1)


def process(cond, uncond=None, cfg_scale=1.0, allowed=None, seen_ids=None,
            penalty=1.0, k=0, p=1.0, temperature=1.0):
    """All steps; returns a dict of the state after each (spec 14.8)."""
    steps = {}
    x = cfg_combine(cond, uncond if uncond is not None else cond, cfg_scale)
    steps["after_cfg"] = x
    x = apply_allowed(x, allowed)
    steps["after_mask"] = x
    x = repetition_penalty(x, seen_ids, penalty)
    steps["after_penalty"] = x
    x = top_k(x, k)
    steps["after_top_k"] = x
    x = top_p(x, p)
    steps["after_top_p"] = x
    steps["argmax"] = torch.argmax(x).reshape(1)
    if temperature > 0:
        steps["probs"] = temperature_probs(x, temperature)
    return steps


def top_p_margin(logits, p):
    """Distance of every sorted cumulative 'above' sum from p: how far the
    case is from a rounding-sensitive tie (used to pick robust goldens)."""
    if not (0.0 < p < 1.0):
        return float("inf")
    order = torch.argsort(logits, descending=True)
    probs = torch.softmax(logits[order].to(torch.float64), dim=-1)
    cum = torch.cumsum(probs, dim=-1)
    return float((cum - p).abs().min())


def self_test():
    """Hand-computed cases for each step."""
    x = torch.tensor([2.0, -1.0, 0.5, 3.0, -4.0, 1.0])
    r = repetition_penalty(x, [0, 1, 1, 4], 2.0)
    assert torch.equal(r, torch.tensor([1.0, -2.0, 0.5, 3.0, -8.0, 1.0])), r
    t = top_k(x, 2)
    assert torch.equal(torch.isinf(t), torch.tensor([0, 1, 1, 0, 1, 1], dtype=torch.bool))
    assert torch.equal(top_k(x, 0), x) and torch.equal(top_k(x, 6), x)
    # probabilities 0.3, 0.5, 0.2: ranked 0.5, 0.3, 0.2, the probability
    # ranked above each is 0, 0.5, 0.8; a token goes when that exceeds p
    lp = torch.log(torch.tensor([0.3, 0.5, 0.2]))
    assert torch.equal(torch.isinf(top_p(lp, 0.45)), torch.tensor([True, False, True]))
    assert torch.equal(torch.isinf(top_p(lp, 0.55)), torch.tensor([False, False, True]))
    assert torch.equal(torch.isinf(top_p(lp, 0.85)), torch.tensor([False, False, False]))
    assert torch.equal(torch.isinf(top_p(lp, 0.01)), torch.tensor([True, False, True]))
    c = cfg_combine(torch.tensor([1.0, 2.0]), torch.tensor([0.5, 3.0]), 2.0)
    assert torch.equal(c, torch.tensor([1.5, 1.0])), c
    m = apply_allowed(x, torch.tensor([1, 0, 1, 0, 1, 1]))
    assert torch.isinf(m[1]) and torch.isinf(m[3]) and m[0] == 2.0


if __name__ == "__main__":
    self_test()
    print("lm_sampling self-test passed")
