// The kernels alone, as a C++ inference runtime would use them: LayerNorm and
// RMSNorm over rows, linked against normkit::kernels (OpenMP only, no oneDNN,
// zlib or JSON). Built and run by the tests against the installed package.
#include <cstdio>

#include <normkit/kernels.hpp>

int main() {
  // 4 tokens of 8 features, and a learned gain and shift per feature.
  normkit::Tensor x({4, 8});
  normkit::Tensor gamma = normkit::Tensor::full({8}, 1.5f);
  normkit::Tensor beta = normkit::Tensor::full({8}, 0.25f);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>((i * 7) % 11) - 5.0f;

  // LayerNorm over the last dim (PyTorch's F.layer_norm), then RMSNorm.
  const normkit::LayerNormForwardResult ln =
      normkit::layer_norm_forward({.x = x, .normalized_shape = {8}, .weight = gamma, .bias = beta}, {.eps = 1e-5});
  const normkit::RMSNormForwardResult rms =
      normkit::rms_norm_forward({.x = x, .normalized_shape = {8}, .weight = gamma}, {.eps = 1e-6});
  std::printf("layer_norm y[0] %.4f (mean %.4f, rstd %.4f); rms_norm y[0] %.4f; simd path %s\n",
              ln.y.data<float>()[0], ln.mean.data<float>()[0], ln.rstd.data<float>()[0], rms.y.data<float>()[0],
              normkit::simd_path());
  return 0;
}
