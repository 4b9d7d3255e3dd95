// Fuzz target: a whole safetensors file (bytes) through the validator
// (S1-S19) that open_safetensors runs on files, plus the checks made on an
// accepted layout. Never crashes; memory stays bounded by the input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "io/safetensors/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  acefit::SafetensorsOptions options;
  options.max_tensors = 64;  // keeps a seed for too_many_tensors under 4 KiB
  const auto layout = acefit::validate_safetensors_bytes(std::span(data, size), "fuzz", options);
  if (!layout.ok()) {
    // Every rejection carries a stable code.
    if (acefit::safetensors_error_code(layout.status()).empty()) __builtin_trap();
    return 0;
  }
  // An accepted layout tiles the data section exactly (S18, S19).
  std::uint64_t total = 0;
  for (const auto& tensor : layout->tensors) {
    if (tensor.file_offset + tensor.byte_size > size) __builtin_trap();
    if (tensor.data_end - tensor.data_begin != tensor.byte_size) __builtin_trap();
    total += tensor.byte_size;
    (void)acefit::check_computable(tensor, "fuzz");
  }
  if (layout->data_offset() + total != size) __builtin_trap();
  return 0;
}
