#include "memory/budget.h"

#include <algorithm>

#include <cstdio>

namespace acefit {

namespace {
std::size_t slot(MemoryTag tag) {
  return static_cast<std::size_t>(tag);
}
}  // namespace

Budget::Budget(std::string device_name, std::uint64_t cap_bytes, std::uint64_t granularity_bytes)
    : device_name_(std::move(device_name)),
      granularity_bytes_(granularity_bytes == 0 ? 1 : granularity_bytes),
      cap_bytes_(cap_bytes) {}

std::uint64_t Budget::accounted_bytes(std::uint64_t requested_bytes) const {
  const std::uint64_t g = granularity_bytes_;
  if (requested_bytes > kUnlimitedBytes - (g - 1)) return kUnlimitedBytes;
  return (requested_bytes + g - 1) / g * g;
}

Expected<std::uint64_t> Budget::reserve(std::uint64_t requested_bytes, MemoryTag tag) {
  const std::uint64_t bytes = accounted_bytes(requested_bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t index = ++reservations_;
  const bool injected = fail_at_ != 0 && index == fail_at_;
  if (injected || bytes > cap_bytes_ || used_bytes_ > cap_bytes_ - bytes) {
    ++failures_;
    if (injected) fail_at_ = 0;
    return Status::out_of_memory({requested_bytes, used_bytes_, cap_bytes_, device_name_, tag},
                                 injected ? "injected failure" : std::string_view{});
  }
  used_bytes_ += bytes;
  current_[slot(tag)] += bytes;
  if (used_bytes_ > peak_bytes_) {
    peak_bytes_ = used_bytes_;
    at_peak_ = current_;
  }
  if (current_[slot(tag)] > peak_[slot(tag)]) peak_[slot(tag)] = current_[slot(tag)];
  if (keep_ledger_) ledger_.push_back({index, bytes, tag, 0});
  return index;
}

void Budget::release(std::uint64_t index, std::uint64_t requested_bytes, MemoryTag tag) {
  const std::uint64_t bytes = accounted_bytes(requested_bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  used_bytes_ -= bytes;
  current_[slot(tag)] -= bytes;
  if (keep_ledger_) {
    // The ledger is in reservation order: a binary search, not a scan
    // (a plan releases thousands of weights at its end).
    const auto it = std::lower_bound(
        ledger_.begin(), ledger_.end(), index,
        [](const AllocationRecord& record, std::uint64_t wanted) { return record.index < wanted; });
    if (it != ledger_.end() && it->index == index) it->released_at = reservations_;
  }
}

std::uint64_t Budget::cap_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cap_bytes_;
}

void Budget::set_cap_bytes(std::uint64_t cap_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cap_bytes_ = cap_bytes;
}

std::uint64_t Budget::used_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_bytes_;
}

std::uint64_t Budget::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_bytes_;
}

std::uint64_t Budget::current_bytes(MemoryTag tag) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_[slot(tag)];
}

std::uint64_t Budget::peak_bytes(MemoryTag tag) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_[slot(tag)];
}

BudgetStats Budget::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {cap_bytes_, used_bytes_, peak_bytes_,   current_,
          peak_,      at_peak_,    reservations_, failures_};
}

void Budget::reset_peaks() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_bytes_ = used_bytes_;
  peak_ = current_;
  at_peak_ = current_;
}

std::array<std::uint64_t, kMemoryTagCount> Budget::at_peak_by_tag() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return at_peak_;
}

void Budget::fail_nth_reservation(std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_at_ = n == 0 ? 0 : reservations_ + n;
}

void Budget::set_keep_ledger(bool keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  keep_ledger_ = keep;
  if (!keep) ledger_.clear();
}

std::vector<AllocationRecord> Budget::ledger() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ledger_;
}

std::string format_bytes(std::uint64_t bytes) {
  char text[64];
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) {
    std::snprintf(text, sizeof text, "%.2f GiB", b / (1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", b / (1ull << 20));
  } else if (bytes >= (1ull << 10)) {
    std::snprintf(text, sizeof text, "%.1f KiB", b / (1ull << 10));
  } else {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return text;
}

}  // namespace acefit
