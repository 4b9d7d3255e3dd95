#include "profile/tier_run.h"

namespace acefit::profile {

bool passed(const TierRunRecord& record) {
  return record.init_success && record.gen_success;
}

bool offloads_text_vae(OffloadMode mode) {
  return mode != OffloadMode::none;
}

bool offloads_dit(OffloadMode mode) {
  return mode == OffloadMode::cpu_dit;
}

}  // namespace acefit::profile
