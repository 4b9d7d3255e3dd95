"""Condition encoder (spec 7)."""
import torch

from . import layers as L


def text_projector(cfg, w, text_hidden):
    return L.linear(text_hidden, w["encoder.text_projector.weight"])


def lyric_encoder(cfg, w, lyric_hidden, lyric_mask):
    p = "encoder.lyric_encoder."
    x = L.linear(lyric_hidden, w[p + "embed_tokens.weight"], w[p + "embed_tokens.bias"])
    return L.encoder_stack(x, w, p, cfg, key_padding=lyric_mask)


def timbre_encoder(cfg, w, timbre_latents, mask=None):
    """[N, frames, 64] -> [N, H] (position 0 after the final norm).

    2B (spec 7.3): the stack sees the frames only; position 0 is frame 0 and
    special_token is unused. XL (spec 18.5): special_token [1, 1, H] is
    prepended, the stack sees 1 + frames positions (a mask, if any, gets a
    leading 1) and position 0 is the special token's output.
    """
    p = "encoder.timbre_encoder."
    x = L.linear(timbre_latents, w[p + "embed_tokens.weight"], w[p + "embed_tokens.bias"])
    if cfg.is_xl:
        tok = w[p + "special_token"].expand(x.shape[0], 1, x.shape[-1])
        x = torch.cat([tok, x], dim=1)
        if mask is not None:
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
    x = L.encoder_stack(x, w, p, cfg, key_padding=mask)
    return x[:, 0, :]


def unpack_timbre(emb, order, batch):
    """Entries of item b fill slots 0..count_b-1 in original order."""
    counts = [0] * batch
    for o in order:
        counts[int(o)] += 1
    max_count = max(max(counts), 1)
    out = emb.new_zeros(batch, max_count, emb.shape[-1])
    mask = torch.zeros(batch, max_count, dtype=torch.int64)
    fill = [0] * batch
    for n, o in enumerate(order):
        b = int(o)
        out[b, fill[b]] = emb[n]
        mask[b, fill[b]] = 1
        fill[b] += 1
    return out, mask


def pack(h1, m1, h2, m2):
    """Concatenate, then stable-sort each row on the mask, descending."""
    h = torch.cat([h1, h2], dim=1)
    m = torch.cat([m1.to(torch.int64), m2.to(torch.int64)], dim=1)
    _, idx = torch.sort(m, dim=1, descending=True, stable=True)
    h = torch.gather(h, 1, idx[:, :, None].expand(-1, -1, h.shape[-1]))
    lengths = m.sum(dim=1, keepdim=True)
    new_mask = (torch.arange(m.shape[1])[None, :] < lengths).to(torch.int64)
    return h, new_mask


def condition_encoder(cfg, w, text_hidden, text_mask, lyric_hidden, lyric_mask,
                      timbre_latents, timbre_order=None):
    """Returns dict with all intermediates and the packed encoder states."""
    cfg = cfg.encoder()  # encoder width (XL); the same dims for 2B
    batch = text_hidden.shape[0]
    if timbre_order is None:
        timbre_order = list(range(timbre_latents.shape[0]))
    text_proj = text_projector(cfg, w, text_hidden)
    lyric = lyric_encoder(cfg, w, lyric_hidden, lyric_mask)
    timbre_flat = timbre_encoder(cfg, w, timbre_latents)
    timbre, timbre_mask = unpack_timbre(timbre_flat, timbre_order, batch)
    h, m = pack(lyric, lyric_mask, timbre, timbre_mask)
    enc, enc_mask = pack(h, m, text_proj, text_mask)
    return {
        "text_projected": text_proj,
        "lyric_encoded": lyric,
        "timbre_encoded": timbre,
        "timbre_mask": timbre_mask,
        "encoder_states": enc,
        "encoder_mask": enc_mask,
    }
