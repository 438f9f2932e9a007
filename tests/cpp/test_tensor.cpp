#include "test_util.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace normkit::test {
namespace {

TEST(Tensor, StridesOfContiguousAndChannelsLast) {
  EXPECT_EQ(contiguous_strides({2, 3, 4, 5}), (Strides{60, 20, 5, 1}));
  EXPECT_EQ(channels_last_strides({2, 3, 4, 5}), (Strides{60, 1, 15, 3}));
  EXPECT_EQ(channels_last_strides({2, 3, 4}), (Strides{12, 1, 3}));
}

TEST(Tensor, LayoutPredicates) {
  Tensor c({2, 3, 4, 5});
  Tensor cl({2, 3, 4, 5}, DType::float32, MemoryFormat::channels_last);
  EXPECT_TRUE(c.view().is_contiguous());
  EXPECT_FALSE(c.view().is_channels_last());
  EXPECT_TRUE(cl.view().is_channels_last());
  EXPECT_FALSE(cl.view().is_contiguous());
  EXPECT_EQ(cl.view().memory_format(), MemoryFormat::channels_last);
  // With one spatial element both orders coincide: contiguous wins.
  Tensor one({2, 3, 1, 1}, DType::float32, MemoryFormat::channels_last);
  EXPECT_TRUE(one.view().is_contiguous());
  EXPECT_EQ(one.view().memory_format(), MemoryFormat::contiguous);
  EXPECT_FALSE(make_tensor({2, 3, 4}, TestLayout::permuted).view.is_contiguous());
  EXPECT_FALSE(make_tensor({2, 3, 4}, TestLayout::strided).view.is_channels_last());
}

TEST(Tensor, CopyFollowsStrides) {
  TestTensor t = make_tensor({2, 3, 2}, TestLayout::permuted);
  std::vector<float> logical(12);
  for (int i = 0; i < 12; ++i) logical[i] = static_cast<float>(i);
  assign(t.view, logical);
  // Memory is (C, N, L): element (n=1, c=0, l=1) sits at c*N*L + n*L + l = 3.
  EXPECT_EQ(t.storage.data<float>()[3], logical[(1 * 3 + 0) * 2 + 1]);
  EXPECT_EQ(values(t.view), logical);
  Tensor cl = Tensor::copy_of(t.view, MemoryFormat::channels_last);
  EXPECT_EQ(values(cl), logical);
}

TEST(Tensor, NegativeStridesAreCopiedCorrectly) {
  Tensor base = vector_tensor({0, 1, 2, 3, 4, 5});
  TensorView reversed(base.data<float>() + 5, {2, 3}, {-3, -1}, DType::float32);
  EXPECT_EQ(values(reversed), (std::vector<float>{5, 4, 3, 2, 1, 0}));
  EXPECT_FALSE(reversed.is_contiguous());
}

TEST(Tensor, BadShapesAreErrors) {
  float x = 0;
  EXPECT_THROW(TensorView(&x, {2, -1}, {1, 1}, DType::float32), Error);
  EXPECT_THROW(TensorView(&x, {2, 2}, {1}, DType::float32), Error);
  EXPECT_EQ(shape_string({2, 3}), "(2, 3)");
  EXPECT_EQ(shape_string({4}), "(4,)");
  EXPECT_FALSE(TensorView().defined());
  EXPECT_TRUE(Tensor({0, 3}).view().defined());
  // Sizes whose product passes 2^63 (even beside a zero size), or too many
  // elements to allocate, are errors, never an overflow.
  EXPECT_EQ(shape_numel({0, std::int64_t{1} << 40, std::int64_t{1} << 20}), 0);
  EXPECT_THROW(shape_numel({0, std::int64_t{1} << 40, std::int64_t{1} << 40}), Error);
  EXPECT_THROW(shape_numel({3, -1}), Error);
  EXPECT_THROW(Tensor({std::int64_t{1} << 62}), Error);
}

TEST(Threading, SetNumThreadsChecksItsArgument) {
  EXPECT_THROW(set_num_threads(0), Error);
  const int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(before);
}

// A freed large block (4 MiB and more) is kept for the next tensor of the
// same size (src/core/storage.hpp); other sizes get blocks of their own, and
// every block is 64-byte aligned.
TEST(Tensor, AFreedLargeBlockServesTheNextTensorOfItsSize) {
  const Shape large{3, 1 << 20};  // 12 MiB
  const void* first = nullptr;
  {
    Tensor t(large);
    first = t.data<float>();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
    t.data<float>()[0] = 1.0f;
  }
  Tensor again(large);
  EXPECT_EQ(again.data<float>(), first);
  Tensor other(Shape{5, 1 << 20});  // 20 MiB: not that block
  EXPECT_NE(other.data<float>(), first);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(other.data<float>()) % 64, 0u);
  Tensor small(Shape{3});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.data<float>()) % 64, 0u);
}

// A small block shares one allocation with its reference counts
// (src/core/storage.cpp): every size still starts on a 64-byte boundary,
// holds all of its bytes (AddressSanitizer reports a write past the
// allocation), and outlives the tensor it came from while a copy holds it.
TEST(Tensor, SmallBlocksAreAlignedAndHoldEveryByte) {
  for (std::int64_t n = 1; n <= 1100; n += (n < 40 ? 1 : 37)) {
    Tensor t(Shape{n});
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64, 0u) << n;
    for (std::int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(i);
    Tensor copy = t;
    t = Tensor();
    ASSERT_EQ(copy.data<float>()[n - 1], static_cast<float>(n - 1)) << n;
  }
  Tensor bytes(Shape{3}, DType::int8);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes.data<std::int8_t>()) % 64, 0u);
}

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer a block the cache keeps is poisoned until a tensor
// takes it again, so a use after free of the old tensor is still reported.
TEST(Tensor, AKeptBlockIsPoisonedUntilTakenAgain) {
  const Shape large{3, 1 << 20};
  const float* first = nullptr;
  {
    Tensor t(large);
    first = t.data<float>();
  }
  EXPECT_TRUE(__asan_address_is_poisoned(first));
  Tensor again(large);
  ASSERT_EQ(again.data<float>(), first);
  EXPECT_FALSE(__asan_address_is_poisoned(first));
}
#endif

}  // namespace
}  // namespace normkit::test

