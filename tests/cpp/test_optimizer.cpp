// SGD and AdamW against torch.optim.SGD's and torch.optim.AdamW's update
// rules, and the learning-rate schedules against PyTorch's.
#include "engine_util.hpp"
#include "normkit/nn/adamw.hpp"
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

// torch.optim.AdamW's rule in double, three steps, a decayed parameter and
// one in no_decay; the state round-trips through load_state.
TEST(AdamW, FollowsTorchOptimAdamWUpdateRule) {
  nn::Parameter decayed(vector_tensor({1.0f, -2.0f})), plain(vector_tensor({0.5f, 3.0f}));
  const nn::AdamWOptions o{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1};
  nn::AdamW opt({&decayed, &plain}, o, {&plain});
  double w[2][2] = {{1.0, -2.0}, {0.5, 3.0}}, m[2][2] = {}, v[2][2] = {};
  const float grads[3][2] = {{0.5f, -1.0f}, {0.25f, 0.5f}, {-1.0f, 2.0f}};
  for (int step = 0; step < 3; ++step) {
    nn::Parameter* params[2] = {&decayed, &plain};
    for (int k = 0; k < 2; ++k) {
      params[k]->zero_grad();
      for (int i = 0; i < 2; ++i) params[k]->grad.data<float>()[i] = grads[step][i] * (k + 1);
    }
    opt.step();
    const double t = step + 1;
    for (int k = 0; k < 2; ++k)
      for (int i = 0; i < 2; ++i) {
        const double g = grads[step][i] * (k + 1);
        w[k][i] *= 1 - o.lr * (k == 0 ? o.weight_decay : 0.0);
        m[k][i] = o.beta1 * m[k][i] + (1 - o.beta1) * g;
        v[k][i] = o.beta2 * v[k][i] + (1 - o.beta2) * g * g;
        const double m_hat = m[k][i] / (1 - std::pow(o.beta1, t)), v_hat = v[k][i] / (1 - std::pow(o.beta2, t));
        w[k][i] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
        EXPECT_NEAR(params[k]->value.data<float>()[i], w[k][i], 1e-6) << "step " << step << " parameter " << k;
      }
  }
  EXPECT_EQ(opt.steps(), 3);
  // A copy restored from the state takes the same next step.
  nn::Parameter decayed2(Tensor::copy_of(decayed.value)), plain2(Tensor::copy_of(plain.value));
  nn::AdamW restored({&decayed2, &plain2}, o, {&plain2});
  restored.load_state(opt.steps(), opt.buffers());
  for (auto [a, b] : {std::pair{&decayed, &decayed2}, std::pair{&plain, &plain2}}) {
    a->zero_grad();
    b->zero_grad();
    a->grad.data<float>()[0] = b->grad.data<float>()[0] = 0.75f;
  }
  opt.step();
  restored.step();
  EXPECT_TRUE(same_bits(values(decayed.value), values(decayed2.value)));
  EXPECT_TRUE(same_bits(values(plain.value), values(plain2.value)));
  EXPECT_EQ(error_of([&] { restored.load_state(1, {{Tensor({3})}, opt.buffers()[1]}); }),
            "AdamW::load_state: exp_avg: expected 2 tensors, got 1");
  EXPECT_EQ(error_of([&] { restored.load_state(1, {}); }), "AdamW::load_state: expected 2 buffers, got 0");
  EXPECT_EQ(error_of([] { nn::AdamW({}, {.beta1 = 1.0}); }), "AdamW: beta1: expected in [0, 1), got 1");
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
