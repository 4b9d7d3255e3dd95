// Compiled only with ACEFIT_HAVE_CUDA; cuda_device_stub.cpp stands in otherwise.
#include "device/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

#include <string>

namespace acefit {

namespace {

std::string cuda_error_text(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + " (" + cudaGetErrorString(error) + ")";
}

// Why no GPU can be used, in words: the runtime reports a missing driver
// as "insufficient" (cudaErrorInsufficientDriver), so ask for the driver's
// version to tell "none installed" from "too old".
std::string no_gpu_text(cudaError_t error) {
  if (error == cudaErrorInsufficientDriver) {
    int driver_version = 0;
    if (cudaDriverGetVersion(&driver_version) != cudaSuccess || driver_version == 0) {
      cudaGetLastError();
      return "no NVIDIA driver found";
    }
    int runtime_version = 0;
    cudaRuntimeGetVersion(&runtime_version);
    return "the NVIDIA driver (CUDA " + std::to_string(driver_version / 1000) + "." +
           std::to_string(driver_version % 1000 / 10) + ") is older than this build's CUDA " +
           std::to_string(runtime_version / 1000) + "." +
           std::to_string(runtime_version % 1000 / 10) + ": update the driver";
  }
  if (error == cudaErrorNoDevice) return "no NVIDIA GPU found";
  return "no usable CUDA GPU: " + cuda_error_text(error);
}

Status cuda_status(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return {};
  return Status(ErrorCode::internal, std::string(what) + " failed: " + cuda_error_text(error));
}

class CudaDevice final : public Device {
 public:
  CudaDevice(int ordinal, std::uint64_t cap_bytes)
      : Device("cuda:" + std::to_string(ordinal), DeviceKind::cuda, cap_bytes, 256),
        ordinal_(ordinal) {}

  DeviceMemory memory() const override {
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    if (cudaSetDevice(ordinal_) != cudaSuccess ||
        cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      cudaGetLastError();
      return {};
    }
    return {total_bytes, free_bytes};
  }

  Status synchronize() override {
    ACEFIT_TRY(cuda_status(cudaSetDevice(ordinal_), "cudaSetDevice"));
    return cuda_status(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

 protected:
  void* raw_allocate(std::uint64_t bytes) override {
    void* pointer = nullptr;
    if (cudaSetDevice(ordinal_) != cudaSuccess || cudaMalloc(&pointer, bytes) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error so later calls work
      return nullptr;
    }
    return pointer;
  }
  void raw_free(void* pointer, std::uint64_t) override {
    cudaSetDevice(ordinal_);
    cudaFree(pointer);
  }
  Status raw_copy_from_host(void* dst, const void* src, std::uint64_t bytes) override {
    ACEFIT_TRY(cuda_status(cudaSetDevice(ordinal_), "cudaSetDevice"));
    return cuda_status(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  Status raw_copy_to_host(void* dst, const void* src, std::uint64_t bytes) override {
    ACEFIT_TRY(cuda_status(cudaSetDevice(ordinal_), "cudaSetDevice"));
    return cuda_status(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
  Status raw_copy_on_device(void* dst, const void* src, std::uint64_t bytes) override {
    ACEFIT_TRY(cuda_status(cudaSetDevice(ordinal_), "cudaSetDevice"));
    return cuda_status(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice),
                       "cudaMemcpy on device");
  }

 private:
  int ordinal_;
};

}  // namespace

bool cuda_compiled_in() {
  return true;
}

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

Expected<std::shared_ptr<Device>> make_cuda_device(int ordinal, std::uint64_t cap_bytes) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    cudaGetLastError();
    return Status(ErrorCode::not_found, no_gpu_text(error));
  }
  if (ordinal < 0 || ordinal >= count) {
    return Status(ErrorCode::not_found, "CUDA device " + std::to_string(ordinal) +
                                            " does not exist (" + std::to_string(count) +
                                            " found)");
  }
  auto device = std::make_shared<CudaDevice>(ordinal, kUnlimitedBytes);
  const DeviceMemory memory = device->memory();
  if (memory.total_bytes == 0) {
    return Status(ErrorCode::not_found,
                  "CUDA device " + std::to_string(ordinal) + " reports no memory");
  }
  device->budget().set_cap_bytes(cap_bytes == 0 ? memory.total_bytes : cap_bytes);
  return std::shared_ptr<Device>(device);
}

}  // namespace acefit
