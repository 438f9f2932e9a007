// A checkpoint writer for the kill test (test_checkpoint_kill.cpp): saves
// checkpoints to PATH over and over, the k-th holding tensors whose every value
// is k and metadata step = k, until it is killed.
//   normkit_checkpoint_writer PATH FIRST_K
#include <cstdio>
#include <cstdlib>
#include <string>

#include "normkit/io/safetensors.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PATH FIRST_K\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  // Large enough that a save takes a while, so that kills land inside one.
  constexpr std::int64_t kValues = 1 << 20;
  for (std::int64_t k = std::atoll(argv[2]);; ++k) {
    normkit::Tensor weight({kValues}), bias({kValues}), step({1}, normkit::DType::int64);
    for (std::int64_t i = 0; i < kValues; ++i) weight.data<float>()[i] = bias.data<float>()[i] = static_cast<float>(k);
    step.data<std::int64_t>()[0] = k;
    normkit::io::save_safetensors(path, {{"weight", weight}, {"bias", bias}, {"step", step}},
                                  {{"step", std::to_string(k)}});
  }
}
