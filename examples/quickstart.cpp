// The C++ quick start of the README, built and run by the tests.
#include <cstdio>

#include <normkit/normkit.hpp>

int main() {
  // A batch of 8 images with 3 channels, 4x4 pixels, in channels-last memory.
  normkit::Tensor x({8, 3, 4, 4}, normkit::DType::float32, normkit::MemoryFormat::channels_last);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 10);

  // Functional form (as ATen's native_batch_norm): batch statistics, no affine.
  normkit::BatchNormForwardResult r = normkit::batch_norm_forward({x}, {.training = true});
  std::printf("channel 0: mean %.3f, invstd %.3f\n", r.save_mean.data<float>()[0],
              r.save_invstd.data<float>()[0]);

  // Module form: running statistics, train()/eval(), backward, fused inference.
  normkit::nn::BatchNorm2d bn(3, {.momentum = 0.1});
  normkit::Tensor y = bn.forward(x);        // training mode: updates running stats
  normkit::Tensor dx = bn.backward(y);      // dL/dy = y, say; accumulates weight.grad
  bn.eval();
  normkit::nn::FusedScaleShift fused = bn.fused_scale_shift();  // y = x * scale + shift
  std::printf("running_mean[0] %.3f, weight.grad[0] %.3f, scale[0] %.3f, dx numel %lld\n",
              bn.running_mean.data<float>()[0], bn.weight.grad.data<float>()[0],
              fused.scale.data<float>()[0], static_cast<long long>(dx.numel()));
  return 0;
}
