#include "pipeline/run_record.h"

#include <utility>

namespace acefit {

StageMeter::StageMeter(std::string name, Device& device, Device& host)
    : name_(std::move(name)), device_(device), host_(host), start_(device.transfer_stats()) {
  device_.budget().reset_peaks();
  if (&host_ != &device_) host_.budget().reset_peaks();
}

void StageMeter::finish(RunRecord& record) {
  StageMemory stage;
  stage.name = name_;
  const BudgetStats device = device_.budget().stats();
  stage.device_peak_bytes = device.peak_bytes;
  stage.device_by_tag = device.at_peak_by_tag;
  if (&host_ != &device_) {
    const BudgetStats host = host_.budget().stats();
    stage.host_peak_bytes = host.peak_bytes;
    stage.host_by_tag = host.at_peak_by_tag;
  }
  const TransferStats now = device_.transfer_stats();
  stage.to_device_bytes = now.to_device_bytes - start_.to_device_bytes;
  stage.to_host_bytes = now.to_host_bytes - start_.to_host_bytes;
  stage.transfer_s = now.seconds - start_.seconds;
  stage.seconds = watch_.elapsed_s();
  if (stage.device_peak_bytes > record.peak_device_bytes) {
    record.peak_device_bytes = stage.device_peak_bytes;
    record.peak_device_by_tag = stage.device_by_tag;
  }
  if (stage.host_peak_bytes > record.peak_host_bytes)
    record.peak_host_bytes = stage.host_peak_bytes;
  record.transfers.to_device_bytes += stage.to_device_bytes;
  record.transfers.to_device_count += now.to_device_count - start_.to_device_count;
  record.transfers.to_host_bytes += stage.to_host_bytes;
  record.transfers.to_host_count += now.to_host_count - start_.to_host_count;
  record.transfers.seconds += stage.transfer_s;
  record.stages.push_back(std::move(stage));
}

}  // namespace acefit
