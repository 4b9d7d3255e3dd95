"""Loading the three checkpoint folders (DiT, VAE, Qwen3 text encoder)."""
import copy
import json
import os

import torch

from . import safetensors_io


def _json(path):
    with open(path) as f:
        return json.load(f)


class DitConfig:
    def __init__(self, d):
        self.raw = d
        self.hidden = d.get("hidden_size", 2048)
        self.intermediate = d.get("intermediate_size", 6144)
        self.num_layers = d.get("num_hidden_layers", 24)
        self.heads = d.get("num_attention_heads", 16)
        self.kv_heads = d.get("num_key_value_heads", 8)
        self.head_dim = d.get("head_dim", 128)
        self.eps = d.get("rms_norm_eps", 1e-6)
        self.rope_theta = d.get("rope_theta", 1000000.0)
        self.use_sliding_window = d.get("use_sliding_window", True)
        self.sliding_window = d.get("sliding_window", 128)
        lt = d.get("layer_types")
        if lt is None:
            lt = ["sliding_attention" if (i + 1) % 2 == 1 else "full_attention"
                  for i in range(self.num_layers)]
        self.layer_types = lt
        self.num_lyric_layers = d.get("num_lyric_encoder_hidden_layers", 8)
        self.num_timbre_layers = d.get("num_timbre_encoder_hidden_layers", 4)
        self.num_pooler_layers = d.get("num_attention_pooler_hidden_layers", 2)
        self.latent_dim = d.get("audio_acoustic_hidden_dim", 64)
        self.timbre_dim = d.get("timbre_hidden_dim", 64)
        self.text_dim = d.get("text_hidden_dim", 1024)
        self.in_channels = d.get("in_channels", 192)
        self.patch_size = d.get("patch_size", 2)
        self.pool_window = d.get("pool_window_size", 5)
        self.fsq_dim = d.get("fsq_dim", 2048)
        self.fsq_levels = d.get("fsq_input_levels", [8, 8, 8, 5, 5, 5])
        self.timbre_fix_frame = d.get("timbre_fix_frame", 750)
        # XL (spec 18.5): the condition encoder, FSQ and detokenizer run at
        # their own width. Absent fields: equal to the decoder's (2B models).
        # The presence of encoder_hidden_size marks an XL checkpoint, whose
        # timbre encoder prepends its special token.
        self.is_xl = "encoder_hidden_size" in d
        self.enc_hidden = d.get("encoder_hidden_size", self.hidden)
        self.enc_intermediate = d.get("encoder_intermediate_size", self.intermediate)
        self.enc_heads = d.get("encoder_num_attention_heads", self.heads)
        self.enc_kv_heads = d.get("encoder_num_key_value_heads", self.kv_heads)

    def encoder(self):
        """This config with the encoder dims in place of the decoder's: what
        the condition encoder, the FSQ tokenizer and the detokenizer use.
        head_dim, eps, RoPE and the layer types are shared."""
        e = copy.copy(self)
        e.hidden = self.enc_hidden
        e.intermediate = self.enc_intermediate
        e.heads = self.enc_heads
        e.kv_heads = self.enc_kv_heads
        return e

    def window_for(self, layer_index):
        """Sliding window (|i-j| <= w) for a stack's layer index, or None."""
        if not self.use_sliding_window:
            return None
        kind = self.layer_types[layer_index % len(self.layer_types)]
        return self.sliding_window if kind == "sliding_attention" else None


class TextConfig:
    def __init__(self, d):
        self.raw = d
        self.hidden = d["hidden_size"]
        self.intermediate = d["intermediate_size"]
        self.num_layers = d["num_hidden_layers"]
        self.heads = d["num_attention_heads"]
        self.kv_heads = d["num_key_value_heads"]
        self.head_dim = d.get("head_dim", self.hidden // self.heads)
        self.eps = d.get("rms_norm_eps", 1e-6)
        self.rope_theta = d.get("rope_theta", 1000000.0)
        self.vocab = d["vocab_size"]


class VaeConfig:
    def __init__(self, d):
        self.raw = d
        self.encoder_hidden = d.get("encoder_hidden_size", 128)
        self.ratios = d.get("downsampling_ratios", [2, 4, 4, 6, 10])
        self.multiples = d.get("channel_multiples", [1, 2, 4, 8, 16])
        self.decoder_channels = d.get("decoder_channels", 128)
        self.latent_channels = d.get("decoder_input_channels", 64)
        self.audio_channels = d.get("audio_channels", 2)
        self.hop = 1
        for r in self.ratios:
            self.hop *= r


def load_dit(folder):
    cfg = DitConfig(_json(os.path.join(folder, "config.json")))
    w = safetensors_io.load(os.path.join(folder, "model.safetensors"))
    w = {k: v.to(torch.float32) for k, v in w.items()}
    return cfg, w


def load_text(folder):
    cfg = TextConfig(_json(os.path.join(folder, "config.json")))
    w = safetensors_io.load(os.path.join(folder, "model.safetensors"))
    w = {k: v.to(torch.float32) for k, v in w.items()}
    return cfg, w


def load_vae(folder):
    cfg = VaeConfig(_json(os.path.join(folder, "config.json")))
    w = safetensors_io.load(os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    w = {k: v.to(torch.float32) for k, v in w.items()}
    return cfg, w


def load_silence_latent(folder):
    """Returns the silence latent as [frames, 64] float32 (spec 3.5)."""
    t = torch.load(os.path.join(folder, "silence_latent.pt"), map_location="cpu")
    if isinstance(t, dict):  # tolerate a state-dict style archive
        t = next(iter(t.values()))
    t = t.to(torch.float32)
    assert t.dim() == 3 and t.shape[0] == 1, t.shape
    return t[0].transpose(0, 1).contiguous()
