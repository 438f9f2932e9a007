// SGD against torch.optim.SGD's update rule, and the learning-rate schedules
// against PyTorch's.
#include "engine_util.hpp"
#include "normkit/nn/sgd.hpp"
#include "normkit/train/schedule.hpp"

namespace normkit::test {
namespace {

TEST(SGD, FollowsTorchOptimSgdUpdateRule) {
  for (const bool nesterov : {false, true}) {
    nn::Parameter p(vector_tensor({1.0f, -2.0f}));
    nn::SGD opt({&p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = nesterov});
    double w[2] = {1.0, -2.0}, b[2] = {0, 0};
    const float grads[3][2] = {{0.5f, -1.0f}, {0.25f, 0.5f}, {-1.0f, 2.0f}};
    for (int step = 0; step < 3; ++step) {
      p.zero_grad();
      p.grad.data<float>()[0] = grads[step][0], p.grad.data<float>()[1] = grads[step][1];
      opt.step();
      for (int i = 0; i < 2; ++i) {
        const double g = grads[step][i] + 0.01 * w[i];
        b[i] = step == 0 ? g : 0.9 * b[i] + g;
        w[i] -= 0.1 * (nesterov ? g + 0.9 * b[i] : b[i]);
        EXPECT_NEAR(p.value.data<float>()[i], w[i], 1e-6) << "step " << step << (nesterov ? " nesterov" : "");
      }
    }
  }
}

TEST(Schedule, StepCosineAndWarmUpAsPyTorch) {
  using train::LrSchedule;
  const LrSchedule step{.kind = LrSchedule::Kind::step, .step_epochs = 2, .gamma = 0.5};
  EXPECT_DOUBLE_EQ(step.at(0, 10, 100, 0.4), 0.4);
  EXPECT_DOUBLE_EQ(step.at(19, 10, 100, 0.4), 0.4);   // epoch 1
  EXPECT_DOUBLE_EQ(step.at(20, 10, 100, 0.4), 0.2);   // epoch 2
  EXPECT_DOUBLE_EQ(step.at(45, 10, 100, 0.4), 0.1);   // epoch 4
  const LrSchedule cosine{.kind = LrSchedule::Kind::cosine, .eta_min = 0.01, .warmup_steps = 10};
  EXPECT_DOUBLE_EQ(cosine.at(0, 10, 110, 1.0), 0.1);  // warm-up: (t + 1) / 10
  EXPECT_DOUBLE_EQ(cosine.at(9, 10, 110, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(cosine.at(10, 10, 110, 1.0), 1.0);  // the cosine starts at the base rate
  EXPECT_NEAR(cosine.at(60, 10, 110, 1.0), 0.505, 1e-12);  // half way: (1 + 0.01) / 2
  EXPECT_NEAR(cosine.at(110, 10, 110, 1.0), 0.01, 1e-12);
  EXPECT_THROW(train::schedule_kind("linear"), Error);
}

}  // namespace
}  // namespace normkit::test
