#include "adapt/options.h"

#include <array>

namespace acefit {

namespace {

constexpr std::array kOptions{
    OptionSpec{"tier", "--tier", "", "auto|tier1|tier2|tier3|tier4|tier5|tier6a|tier6b|unlimited",
               "Use this tier's limits and defaults instead of the detected one (tier6 = tier6b); "
               "the GPU memory keeps its detected value",
               "auto (from the GPU memory)"},
    OptionSpec{"device", "--device", "ACESTEP_DEVICE", "auto|cpu|sim|vulkan|vulkan:N|cuda|cuda:N",
               "Device to run on; auto takes the first Vulkan GPU (discrete, else integrated; "
               "never a CPU implementation such as lavapipe), else the CPU",
               "auto"},
    OptionSpec{"device", "", "ACEFIT_DEVICE", "auto|cpu|sim|vulkan|vulkan:N|cuda|cuda:N",
               "The same as ACESTEP_DEVICE (acefit's own name; ACESTEP_DEVICE wins when both "
               "are set)"},
    OptionSpec{"init_lm", "--init-llm", "ACESTEP_INIT_LLM", "auto|true|false",
               "Allow the 5 Hz language model (generate --thinking / --cot load it): auto "
               "follows the tier (on from tier3, and on the CPU); true on tiers 1-2 needs "
               "--force, and the LM then runs on the host when it does not fit",
               "auto"},
    OptionSpec{"lm_model", "--lm-model", "ACESTEP_LM_MODEL_PATH",
               "acestep-5Hz-lm-0.6B|acestep-5Hz-lm-1.7B|acestep-5Hz-lm-4B",
               "LM model folder; a size the tier does not allow becomes the largest allowed one "
               "unless --force; when the tier's recommended folder is missing, the largest "
               "allowed one present",
               "the tier's recommended size"},
    OptionSpec{"backend", "--backend", "ACESTEP_LM_BACKEND", "vllm|pt|mlx",
               "LM backend: vllm (KV cache of 256-token blocks reserved for the request up "
               "front, weights resident) is allowed from tier4 on NVIDIA and AMD GPUs; pt grows "
               "its cache a block at a time and lets the weights wait on the host; mlx is pt "
               "off Apple Silicon",
               "the tier's choice"},
    OptionSpec{"offload", "--offload", "", "cpu+dit|cpu|none",
               "Where idle models wait: cpu+dit moves every model to the GPU only for its stage; "
               "cpu keeps the DiT on the GPU; none keeps everything there",
               "the tier's choice"},
    OptionSpec{"offload", "--offload", "ACESTEP_OFFLOAD_TO_CPU", "true|false",
               "Keep the VAE and text encoder on the CPU between stages (offload cpu)"},
    OptionSpec{"offload", "--offload", "ACESTEP_OFFLOAD_DIT_TO_CPU", "true|false",
               "Also move the DiT off the GPU between stages (offload cpu+dit; needs "
               "ACESTEP_OFFLOAD_TO_CPU)"},
    OptionSpec{"quantization", "--quantization", "ACESTEP_QUANTIZATION", "int8|none",
               "INT8 weight-only quantization of the DiT (int8_weight_only is accepted); turns "
               "compile on",
               "the tier's choice"},
    OptionSpec{"compile", "--compile", "ACESTEP_COMPILE_MODEL", "true|false",
               "Shape-specialised plans and captured device graphs for the DiT and VAE; a bare "
               "flag means true",
               "the tier's choice"},
    OptionSpec{"duration_s", "--duration", "", "10-600 seconds",
               "Song length; clamped to the tier's maximum with a warning, raised to 10 with one",
               "30"},
    OptionSpec{"batch", "--batch", "ACESTEP_BATCH_SIZE", "1-64",
               "Songs per generation (NAME-1 ... NAME-N for N > 1); clamped to the tier's "
               "maximum with a warning",
               "1"},
    OptionSpec{"config_path", "--config-path", "ACESTEP_CONFIG_PATH", "a DiT folder name",
               "DiT model folder under checkpoints/ (default acestep-v15-turbo)"},
    OptionSpec{"vae_on_cpu", "--vae-on-cpu", "ACESTEP_VAE_ON_CPU", "true|false",
               "Decode audio on the CPU (the last rung of the VAE decode ladder) from the start; a "
               "bare flag means true",
               "false"},
    OptionSpec{"vae_decode_chunk_size", "--vae-chunk", "ACESTEP_VAE_DECODE_CHUNK_SIZE",
               "auto|9-1048576 latent frames",
               "VAE decode chunk in latent frames; auto picks from free memory", "auto"},
    OptionSpec{"force", "--force", "", "",
               "Keep choices the tier would change: an LM on tiers 1-2, an LM larger than the "
               "tier allows"},
};

}  // namespace

std::span<const OptionSpec> option_table() {
  return kOptions;
}

const OptionSpec* find_option_by_env(std::string_view env) {
  for (const auto& option : kOptions) {
    if (!env.empty() && option.env == env) return &option;
  }
  return nullptr;
}

const OptionSpec* find_option_by_flag(std::string_view flag) {
  for (const auto& option : kOptions) {
    if (!flag.empty() && option.flag == flag) return &option;
  }
  return nullptr;
}

}  // namespace acefit
