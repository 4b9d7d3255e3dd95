// DiT layer streaming: the tiny DiT with its layers on the cpu device and
// everything else copied to a sim device computes, for every stream window,
// bitwise what the DiT wholly on the sim device computes; streaming one
// layer at a time lowers the sim peak by the other layers' bytes; and a
// planning device mirroring the sim device predicts the streamed peak
// exactly.
#include <gtest/gtest.h>

#include <iostream>

#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "golden_support.h"
#include "models/dit/dit_decoder.h"
#include "models/weight_copy.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

using models::DitDecoder;

class DitStreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = golden_checkpoints() + "/acestep-v15-turbo";
    const auto loader = unwrap(models::WeightLoader::open(dir));
    host_dit_.emplace(unwrap(DitDecoder::load(loader, ops::OpContext{*cpu_, test_pool()},
                                              unwrap(load_dit_config(dir)), DType::bf16)));
  }

  struct Run {
    std::vector<float> velocity;
    std::uint64_t peak_bytes = 0;
  };

  // prepare + forward of `dit` on `device` (inputs uploaded first, peaks
  // reset after the uploads).
  Run run(const DitDecoder& dit, Device& device) {
    const ops::OpContext ctx{device, test_pool()};
    const Tensor states = golden_.upload(device, "encoder_states");
    const Tensor x_t = golden_.upload(device, "x_t");
    const Tensor context = golden_.upload(device, "context");
    const std::vector<float> t = golden_["timestep"].f32;
    device.budget().reset_peaks();
    Run result;
    {
      const auto cache = unwrap(dit.prepare(ctx, states));
      const Tensor velocity = unwrap(dit.forward(ctx, x_t, context, t, t, cache));
      if (!device.planning()) result.velocity = download(velocity);
    }
    result.peak_bytes = device.budget().peak_bytes();
    return result;
  }

  std::uint64_t layer_bytes(std::size_t layer, std::uint64_t granularity) {
    DitDecoder view = *host_dit_;
    std::vector<Tensor*> tensors;
    view.collect_layer_weights(layer, tensors);
    return models::tensor_bytes(tensors, granularity);
  }

  GoldenFile golden_{"dit_step"};
  std::shared_ptr<Device> cpu_ = make_test_device("cpu");
  std::optional<DitDecoder> host_dit_;
};

TEST_F(DitStreamingTest, EveryWindowMatchesTheResidentDitBitwise) {
  auto sim = make_sim_device(std::uint64_t{1} << 30);
  const std::size_t layers = host_dit_->layer_count();
  ASSERT_GE(layers, 4u);
  Run resident;
  {
    const DitDecoder on_sim = unwrap(models::copy_model_to(*host_dit_, *sim));
    resident = run(on_sim, *sim);
  }
  ASSERT_EQ(sim->budget().used_bytes(), 0u);
  const std::uint64_t g = sim->budget().granularity_bytes();
  std::vector<std::uint64_t> peaks;
  for (const int window : {1, 2, 3, static_cast<int>(layers)}) {
    DitDecoder streamed = unwrap(host_dit_->copy_to(*sim, false));
    streamed.set_stream_window(window);
    ASSERT_EQ(streamed.stream_window(), window);
    sim->reset_transfer_stats();
    const Run run_streamed = run(streamed, *sim);
    EXPECT_EQ(run_streamed.velocity, resident.velocity) << "window " << window;
    peaks.push_back(run_streamed.peak_bytes);
    // forward copied every layer once; prepare the cross-attention K/V.
    EXPECT_GT(sim->transfer_stats().to_device_bytes, layer_bytes(0, 1) * layers);
    if (window == 1) {
      std::uint64_t others = 0;
      for (std::size_t i = 1; i < layers; ++i) others += layer_bytes(i, g);
      const std::int64_t saved = static_cast<std::int64_t>(resident.peak_bytes) -
                                 static_cast<std::int64_t>(run_streamed.peak_bytes);
      std::cout << "[streaming] resident peak " << resident.peak_bytes << " B, window 1 peak "
                << run_streamed.peak_bytes << " B, saved " << saved << " B, other layers " << others
                << " B\n";
      // Activations are the same in both runs, so the peak falls by the
      // layers that are not resident (the peak layer's own bytes stay).
      EXPECT_GE(saved,
                static_cast<std::int64_t>(others) - static_cast<std::int64_t>(layer_bytes(0, g)));
      EXPECT_LE(saved, static_cast<std::int64_t>(others + layer_bytes(0, g)));
    }
  }
  EXPECT_EQ(sim->budget().current_bytes(MemoryTag::weights), 0u);
  // A wider window holds more layers at once, a window of every layer no
  // more than the resident DiT (which also holds its layers during prepare
  // and the time embeddings, where streaming holds none or only K/V).
  std::cout << "[streaming] peaks for windows 1, 2, 3, " << layers << ":";
  for (const std::uint64_t peak : peaks) std::cout << " " << peak;
  std::cout << " B\n";
  for (std::size_t i = 1; i < peaks.size(); ++i) EXPECT_LT(peaks[i - 1], peaks[i]) << i;
  EXPECT_LE(peaks.back(), resident.peak_bytes);
}

TEST_F(DitStreamingTest, PlanningDevicePredictsTheStreamedPeak) {
  auto sim = make_sim_device(std::uint64_t{1} << 30);
  auto planning = make_planning_device(*sim);
  for (const int window : {1, 3}) {
    DitDecoder on_sim = unwrap(host_dit_->copy_to(*sim, false));
    DitDecoder on_plan = unwrap(host_dit_->copy_to(*planning, false));
    on_sim.set_stream_window(window);
    on_plan.set_stream_window(window);
    const Run measured = run(on_sim, *sim);
    const Run planned = run(on_plan, *planning);
    EXPECT_EQ(planned.peak_bytes, measured.peak_bytes) << "window " << window;
    EXPECT_GT(planned.peak_bytes, 0u);
  }
}

TEST_F(DitStreamingTest, WindowBelowOneIsOne) {
  DitDecoder dit = *host_dit_;
  EXPECT_EQ(dit.stream_window(), 1);
  dit.set_stream_window(0);
  EXPECT_EQ(dit.stream_window(), 1);
  dit.set_stream_window(-3);
  EXPECT_EQ(dit.stream_window(), 1);
}

}  // namespace
}  // namespace acefit::testing
