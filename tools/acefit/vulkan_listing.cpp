#include "vulkan_listing.h"

#include <cstdio>

#include "cli_common.h"

namespace acefit::cli {

VulkanListing list_vulkan() {
  VulkanListing listing;
  auto listed = list_vulkan_devices();
  if (!listed.ok()) {
    listing.note = listed.status().message();
    return listing;
  }
  listing.devices = std::move(listed).value();
  if (listing.devices.empty()) listing.note = "the Vulkan loader reports no device";
  listing.preferred = preferred_vulkan_device(listing.devices);
  return listing;
}

int running_vulkan_index(const Device& running) {
  const auto* vulkan = dynamic_cast<const VulkanDevice*>(&running);
  return vulkan == nullptr ? -1 : vulkan->info().index;
}

namespace {

std::string auto_note(const VulkanDeviceInfo& d, int preferred) {
  if (!d.usable) return "unusable: " + d.unusable_why;
  if (d.index == preferred) return "auto picks it";
  if (d.type == VulkanDeviceType::cpu) return "a CPU implementation: only with --device vulkan:N";
  return "usable with --device vulkan:" + std::to_string(d.index);
}

}  // namespace

nlohmann::json vulkan_listing_json(const VulkanListing& listing, const Device& running) {
  nlohmann::json out = nlohmann::json::array();
  const int running_index = running_vulkan_index(running);
  for (const auto& d : listing.devices) {
    nlohmann::json heaps = nlohmann::json::array();
    for (std::size_t h = 0; h < d.heaps.size(); ++h) {
      heaps.push_back({{"index", h},
                       {"size_bytes", d.heaps[h].size_bytes},
                       {"budget_bytes", d.heaps[h].budget_bytes},
                       {"usage_bytes", d.heaps[h].usage_bytes},
                       {"device_local", d.heaps[h].device_local},
                       {"compute", static_cast<int>(h) == d.compute_heap}});
    }
    out.push_back({{"name", "vulkan:" + std::to_string(d.index)},
                   {"device_name", d.name},
                   {"vendor", d.vendor},
                   {"type", std::string(vulkan_device_type_name(d.type))},
                   {"api_version", d.api_version},
                   {"driver", d.driver},
                   {"memory_budget_extension", d.memory_budget_extension},
                   {"cooperative_matrix_extension", d.cooperative_matrix_extension},
                   {"heaps", heaps},
                   {"usable", d.usable},
                   {"unusable_why", d.unusable_why},
                   {"auto", d.index == listing.preferred},
                   {"running", d.index == running_index}});
  }
  return out;
}

void print_vulkan_listing(const VulkanListing& listing, const Device& running,
                          const std::string& indent) {
  if (listing.devices.empty()) {
    std::printf("%s(no Vulkan device: %s)\n", indent.c_str(), listing.note.c_str());
    return;
  }
  const int running_index = running_vulkan_index(running);
  for (const auto& d : listing.devices) {
    std::printf("%svulkan:%d  %s (%s, %s; Vulkan %s%s%s)%s\n", indent.c_str(), d.index,
                d.name.c_str(), d.vendor.c_str(),
                std::string(vulkan_device_type_name(d.type)).c_str(), d.api_version.c_str(),
                d.driver.empty() ? "" : ", ", d.driver.c_str(),
                d.index == running_index ? "  <- runs" : "");
    for (std::size_t h = 0; h < d.heaps.size(); ++h) {
      const auto& heap = d.heaps[h];
      std::printf("%s  heap %zu: %s, budget %s%s%s%s\n", indent.c_str(), h,
                  format_bytes(heap.size_bytes).c_str(), format_bytes(heap.budget_bytes).c_str(),
                  d.memory_budget_extension ? "" : " (no VK_EXT_memory_budget: the heap size)",
                  heap.device_local ? ", device-local" : "",
                  static_cast<int>(h) == d.compute_heap ? ", tensors" : "");
    }
    std::printf("%s  %s\n", indent.c_str(), auto_note(d, listing.preferred).c_str());
  }
}

}  // namespace acefit::cli
