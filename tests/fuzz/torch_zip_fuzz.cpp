// Fuzz target: bytes -> the .pt (PyTorch zip) reader. The input is parsed as
// a whole archive with the committed test shape [1, 4, 10]; the directory
// parser also runs on its own so entries beyond the tensor are exercised.
#include <cstddef>
#include <cstdint>
#include <span>

#include "io/torch/torch_zip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  static const std::int64_t kShape[] = {1, 4, 10};
  (void)acefit::parse_pt_float_tensor(bytes, kShape, "fuzz.pt");
  auto entries = acefit::parse_zip_directory(bytes, "fuzz.pt");
  if (entries.ok()) {
    for (const acefit::ZipEntry& entry : *entries) {
      (void)acefit::zip_stored_entry(bytes, entry, "fuzz.pt");
    }
  }
  return 0;
}
