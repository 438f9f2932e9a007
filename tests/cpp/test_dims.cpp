// Dims (normkit/dims.hpp), the container of shapes and strides: the same
// values as a std::vector<int64_t> put through the same operations, inline
// and past its inline capacity.
#include <gtest/gtest.h>

#include <numeric>
#include <utility>
#include <vector>

#include "normkit/dims.hpp"

namespace normkit {
namespace {

using Vector = std::vector<std::int64_t>;

Vector values_of(const Dims& d) { return Vector(d.begin(), d.end()); }

// 0, 1, ..., n - 1.
Vector iota(std::size_t n) {
  Vector v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Dims, ConstructsAsAVector) {
  EXPECT_TRUE(Dims().empty());
  EXPECT_EQ(values_of(Dims{2, 3, 4}), (Vector{2, 3, 4}));
  EXPECT_EQ(values_of(Dims(3, 7)), (Vector{7, 7, 7}));
  EXPECT_EQ(values_of(Dims(2)), (Vector{0, 0}));
  for (std::size_t n : {std::size_t{0}, Dims::kInline, Dims::kInline + 1, std::size_t{40}}) {
    const Vector v = iota(n);
    EXPECT_EQ(values_of(Dims(v)), v) << n;
    EXPECT_EQ(values_of(Dims(v.begin(), v.end())), v) << n;
    EXPECT_EQ(Vector(Dims(v)), v) << n;
  }
}

TEST(Dims, GrowsPastItsInlineValues) {
  Dims d;
  Vector v;
  for (std::int64_t i = 0; i < 40; ++i) {
    d.push_back(i * 3);
    v.push_back(i * 3);
    ASSERT_EQ(values_of(d), v);
  }
  EXPECT_GE(d.capacity(), d.size());
  d.resize(50, -1);
  v.resize(50, -1);
  EXPECT_EQ(values_of(d), v);
  d.resize(2);
  EXPECT_EQ(values_of(d), (Vector{0, 3}));
  d.pop_back();
  EXPECT_EQ(d.back(), 0);
  d.clear();
  EXPECT_TRUE(d.empty());
}

TEST(Dims, CopiesAndMovesKeepTheValues) {
  for (std::size_t n : {std::size_t{3}, std::size_t{20}}) {
    const Vector v = iota(n);
    const Dims original(v);
    Dims copy = original;
    EXPECT_EQ(values_of(copy), v);
    copy[0] = 99;
    EXPECT_EQ(original[0], 0) << "a copy shares nothing";
    Dims moved = std::move(copy);
    EXPECT_EQ(moved[0], 99);
    EXPECT_TRUE(copy.empty());  // NOLINT: a moved-from Dims is empty and usable
    copy.push_back(5);
    EXPECT_EQ(values_of(copy), (Vector{5}));
    Dims assigned{1};
    assigned = original;
    EXPECT_EQ(values_of(assigned), v);
    assigned = std::move(moved);
    EXPECT_EQ(assigned[0], 99);
    assigned = assigned;  // NOLINT: self-assignment keeps the values
    EXPECT_EQ(assigned[0], 99);
  }
}

TEST(Dims, InsertsAndErasesAsAVector) {
  for (std::size_t n : {std::size_t{4}, std::size_t{12}}) {
    Dims d(iota(n));
    Vector v = iota(n);
    d.insert(d.begin() + 1, 42);
    v.insert(v.begin() + 1, 42);
    EXPECT_EQ(values_of(d), v);
    const Vector more{7, 8, 9};
    d.insert(d.end(), more.begin(), more.end());
    v.insert(v.end(), more.begin(), more.end());
    EXPECT_EQ(values_of(d), v);
    d.insert(d.begin(), d.begin() + 2, d.begin() + 4);  // a range of its own
    const Vector own(v.begin() + 2, v.begin() + 4);
    v.insert(v.begin(), own.begin(), own.end());
    EXPECT_EQ(values_of(d), v);
    d.erase(d.begin() + 1, d.begin() + 3);
    v.erase(v.begin() + 1, v.begin() + 3);
    EXPECT_EQ(values_of(d), v);
    d.erase(d.begin());
    v.erase(v.begin());
    EXPECT_EQ(values_of(d), v);
  }
}

TEST(Dims, ComparesAndChecksAsAVector) {
  EXPECT_EQ((Dims{1, 2}), (Dims{1, 2}));
  EXPECT_NE((Dims{1, 2}), (Dims{1, 2, 3}));
  EXPECT_LT((Dims{1, 2}), (Dims{1, 3}));
  EXPECT_LT((Dims{1, 2}), (Dims{1, 2, 0}));
  const Dims d{4, 5};
  EXPECT_EQ(d.at(1), 5);
  EXPECT_THROW((void)d.at(2), std::out_of_range);
}

}  // namespace
}  // namespace normkit
