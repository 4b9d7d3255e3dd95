// The Vulkan devices as `acefit devices` and `check-gpu` show them: each
// with its type, driver, heaps and budgets, whether acefit can run on it and
// whether it is the one running.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "device/device.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::cli {

struct VulkanListing {
  std::vector<VulkanDeviceInfo> devices;
  std::string note;    // why none are listed (no driver, no Vulkan in this build)
  int preferred = -1;  // what `auto` picks
};

VulkanListing list_vulkan();

// N when `running` is the Vulkan device vulkan:N, else -1.
int running_vulkan_index(const Device& running);

nlohmann::json vulkan_listing_json(const VulkanListing& listing, const Device& running);
// Lines of text, each indented by `indent`.
void print_vulkan_listing(const VulkanListing& listing, const Device& running,
                          const std::string& indent);

}  // namespace acefit::cli
