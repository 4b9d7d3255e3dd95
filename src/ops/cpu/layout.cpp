// Strided copy: the one kernel behind contiguous, transpose, slice, concat
// and pad. The innermost dim is copied as a run when its stride is 1.
#include <algorithm>
#include <cstring>

#include "ops/cpu/cpu_kernels.h"

namespace acefit::cpu {

void strided_copy(ThreadPool& pool, const void* src, void* dst, std::size_t element_bytes, int rank,
                  const i64* shape, const i64* src_strides) {
  if (rank == 0) {
    std::memcpy(dst, src, element_bytes);
    return;
  }
  i64 outer = 1;
  for (int i = 0; i < rank - 1; ++i) outer *= shape[i];
  const i64 inner = shape[rank - 1];
  const i64 inner_stride = src_strides[rank - 1];
  if (outer == 0 || inner == 0) return;
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  const i64 grain = std::max<i64>(1, (i64{1} << 15) / std::max<i64>(1, inner));
  pool.parallel_for(outer, grain, [&](i64 o0, i64 o1) {
    for (i64 o = o0; o < o1; ++o) {
      // Offset of row o in the source, from its multi-index.
      i64 rem = o;
      i64 offset = 0;
      for (int i = rank - 2; i >= 0; --i) {
        offset += (rem % shape[i]) * src_strides[i];
        rem /= shape[i];
      }
      const unsigned char* from = s + static_cast<std::size_t>(offset) * element_bytes;
      unsigned char* to = d + static_cast<std::size_t>(o * inner) * element_bytes;
      if (inner_stride == 1) {
        std::memcpy(to, from, static_cast<std::size_t>(inner) * element_bytes);
      } else {
        for (i64 j = 0; j < inner; ++j) {
          std::memcpy(to + static_cast<std::size_t>(j) * element_bytes,
                      from + static_cast<std::size_t>(j * inner_stride) * element_bytes,
                      element_bytes);
        }
      }
    }
  });
}

}  // namespace acefit::cpu

namespace acefit::cpu {

void strided_copy_into(ThreadPool& pool, const void* src, void* dst, std::size_t element_bytes,
                       int rank, const i64* shape, const i64* src_strides, const i64* dst_strides) {
  if (rank == 0) {
    std::memcpy(dst, src, element_bytes);
    return;
  }
  i64 outer = 1;
  for (int i = 0; i < rank - 1; ++i) outer *= shape[i];
  const i64 inner = shape[rank - 1];
  if (outer == 0 || inner == 0) return;
  const i64 src_inner = src_strides[rank - 1];
  const i64 dst_inner = dst_strides[rank - 1];
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  const i64 grain = std::max<i64>(1, (i64{1} << 15) / std::max<i64>(1, inner));
  pool.parallel_for(outer, grain, [&](i64 o0, i64 o1) {
    for (i64 o = o0; o < o1; ++o) {
      // Offsets of row o in both views, from its multi-index.
      i64 rem = o;
      i64 from_offset = 0;
      i64 to_offset = 0;
      for (int i = rank - 2; i >= 0; --i) {
        const i64 coord = rem % shape[i];
        from_offset += coord * src_strides[i];
        to_offset += coord * dst_strides[i];
        rem /= shape[i];
      }
      const unsigned char* from = s + static_cast<std::size_t>(from_offset) * element_bytes;
      unsigned char* to = d + static_cast<std::size_t>(to_offset) * element_bytes;
      if (src_inner == 1 && dst_inner == 1) {
        std::memcpy(to, from, static_cast<std::size_t>(inner) * element_bytes);
      } else {
        for (i64 j = 0; j < inner; ++j) {
          std::memcpy(to + static_cast<std::size_t>(j * dst_inner) * element_bytes,
                      from + static_cast<std::size_t>(j * src_inner) * element_bytes,
                      element_bytes);
        }
      }
    }
  });
}

}  // namespace acefit::cpu
