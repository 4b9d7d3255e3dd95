// Small helpers shared by the Generator's files: request errors, progress
// reports, and a model's weights on the compute device for one stage.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "device/device.h"
#include "models/weight_copy.h"
#include "pipeline/generator.h"

namespace acefit::stage {

inline Status bad_request(const std::string& what) {
  return Status(ErrorCode::invalid_argument, "generate: " + what);
}

// The cancellation point between stages and steps.
inline Status check_cancelled(const std::function<bool()>& cancelled) {
  if (cancelled && cancelled()) return Status(ErrorCode::cancelled, "generate: cancelled");
  return Status();
}

inline void report(const ProgressFn& progress, std::string_view stage, std::int64_t done,
                   std::int64_t total) {
  if (progress) progress(stage, done, total);
}

// A weight group on the compute device for one stage: the group itself when
// it lives there, else a copy (counted as transfers) that is dropped, and
// its device memory freed, when this object goes away.
template <class Model>
class OnDevice {
 public:
  static Expected<OnDevice> acquire(const Model& home, Device& home_device, Device& device) {
    OnDevice visit;
    if (&home_device == &device) {
      visit.model_ = &home;
      return visit;
    }
    Expected<Model> copied = [&] {
      if constexpr (requires { home.copy_to(device); }) {
        return home.copy_to(device);
      } else {
        return models::copy_model_to(home, device);
      }
    }();
    ACEFIT_ASSIGN(Model copy, std::move(copied));
    visit.copy_.emplace(std::move(copy));
    visit.model_ = &*visit.copy_;
    return visit;
  }
  static OnDevice adopt(Model copy) {
    OnDevice visit;
    visit.copy_.emplace(std::move(copy));
    return visit;
  }
  const Model& operator*() const { return copy_ ? *copy_ : *model_; }
  const Model* operator->() const { return &**this; }

  OnDevice(OnDevice&& other) noexcept : model_(other.model_), copy_(std::move(other.copy_)) {}
  OnDevice& operator=(OnDevice&&) = delete;
  OnDevice(const OnDevice&) = delete;

 private:
  OnDevice() = default;
  const Model* model_ = nullptr;
  std::optional<Model> copy_;
};

}  // namespace acefit::stage
