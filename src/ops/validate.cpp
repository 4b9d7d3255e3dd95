#include "ops/validate.h"

#include <string>

namespace acefit::ops {

Status fail(std::string_view op, std::string message) {
  return invalid_argument(std::string(op) + ": " + message);
}

Status check_input(const OpContext& ctx, std::string_view op, std::string_view arg,
                   const Tensor& t) {
  if (!t.defined()) return fail(op, std::string(arg) + " is undefined");
  if (t.device() != &ctx.device) {
    return fail(op, std::string(arg) + " is on device '" + t.device()->name() +
                        "', the op runs on '" + ctx.device.name() + "'");
  }
  if (!t.is_contiguous())
    return fail(op, std::string(arg) + " " + t.describe() + " is not contiguous");
  return {};
}

Status check_dtype(std::string_view op, std::string_view arg, const Tensor& t,
                   std::initializer_list<DType> allowed) {
  for (DType d : allowed) {
    if (t.dtype() == d) return {};
  }
  std::string names;
  for (DType d : allowed) {
    if (!names.empty()) names += ", ";
    names += dtype_name(d);
  }
  return fail(op, std::string(arg) + " has dtype " + std::string(dtype_name(t.dtype())) +
                      ", expected " + names);
}

Status check_rank(std::string_view op, std::string_view arg, const Tensor& t, int min_rank,
                  int max_rank) {
  if (t.rank() < min_rank || t.rank() > max_rank) {
    const std::string want = min_rank == max_rank
                                 ? std::to_string(min_rank)
                                 : std::to_string(min_rank) + ".." + std::to_string(max_rank);
    return fail(op, std::string(arg) + " " + t.describe() + " has rank " +
                        std::to_string(t.rank()) + ", expected " + want);
  }
  return {};
}

Status check_kernel_device(const OpContext& ctx, std::string_view op) {
  // Every op has a host kernel and a vulkan kernel; cuda has none yet.
  if (ctx.device.host_backed() || ctx.device.planning() || ctx.device.kind() == DeviceKind::vulkan)
    return {};
  return unsupported(std::string(op) + ": no kernel for device '" + ctx.device.name() + "' yet");
}

}  // namespace acefit::ops
