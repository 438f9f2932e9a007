// Dims: the int64 list of a shape or strides, a std::vector-like container
// that keeps up to kInline values in itself and goes to the heap only beyond.
//
// A call passes its shapes and strides around by value many times (the
// argument views, the results, the views of the results): as std::vector
// that was some 80 allocations and frees per Python call of a decode-sized
// LayerNorm, a third of its time (docs/benchmarks.md, "Per-call overhead").
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

namespace normkit {

class Dims {
 public:
  using value_type = std::int64_t;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = value_type&;
  using const_reference = const value_type&;
  using pointer = value_type*;
  using const_pointer = const value_type*;
  using iterator = value_type*;
  using const_iterator = const value_type*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  // Rank 6 and less (every tensor of the family) stays inline.
  static constexpr size_type kInline = 6;

  Dims() noexcept = default;
  explicit Dims(size_type n, value_type value = 0) { resize(n, value); }
  Dims(std::initializer_list<value_type> values) { assign(values.begin(), values.end()); }
  template <std::input_iterator It>
  Dims(It first, It last) {
    assign(first, last);
  }
  Dims(const std::vector<value_type>& values) { assign(values.begin(), values.end()); }  // NOLINT: as a vector
  Dims(const Dims& other) { assign(other.begin(), other.end()); }
  Dims(Dims&& other) noexcept { take(other); }
  ~Dims() = default;

  Dims& operator=(const Dims& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  Dims& operator=(Dims&& other) noexcept {
    if (this != &other) take(other);
    return *this;
  }
  Dims& operator=(std::initializer_list<value_type> values) {
    assign(values.begin(), values.end());
    return *this;
  }
  operator std::vector<value_type>() const { return {begin(), end()}; }  // NOLINT: as a vector

  template <std::input_iterator It>
  void assign(It first, It last) {
    clear();
    for (; first != last; ++first) push_back(static_cast<value_type>(*first));
  }

  size_type size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_type capacity() const { return capacity_; }
  pointer data() { return heap_ ? heap_.get() : inline_; }
  const_pointer data() const { return heap_ ? heap_.get() : inline_; }

  iterator begin() { return data(); }
  iterator end() { return data() + size_; }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size_; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }
  reverse_iterator rbegin() { return reverse_iterator(end()); }
  reverse_iterator rend() { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const { return const_reverse_iterator(begin()); }

  reference operator[](size_type i) { return data()[i]; }
  const_reference operator[](size_type i) const { return data()[i]; }
  // Checked, as std::vector's.
  reference at(size_type i) { return data()[checked(i)]; }
  const_reference at(size_type i) const { return data()[checked(i)]; }
  reference front() { return data()[0]; }
  const_reference front() const { return data()[0]; }
  reference back() { return data()[size_ - 1]; }
  const_reference back() const { return data()[size_ - 1]; }

  void reserve(size_type n) {
    if (n <= capacity_) return;
    auto grown = std::make_unique<value_type[]>(n);
    std::copy_n(data(), std::min(size_, n), grown.get());  // (size_ <= n: the bound for GCC's overflow check)
    heap_ = std::move(grown);
    capacity_ = n;
  }
  void push_back(value_type value) {
    if (size_ == capacity_) reserve(2 * capacity_);
    data()[size_++] = value;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }
  void resize(size_type n, value_type value = 0) {
    reserve(n);
    std::fill(data() + std::min(n, size_), data() + n, value);
    size_ = n;
  }
  iterator insert(const_iterator pos, value_type value) { return insert(pos, &value, &value + 1); }
  template <std::input_iterator It>
  iterator insert(const_iterator pos, It first, It last) {
    const Dims tail(pos, cend());  // (first, last may point into this)
    const auto at = static_cast<size_type>(pos - cbegin());
    const Dims middle(first, last);
    size_ = at;
    for (value_type v : middle) push_back(v);
    for (value_type v : tail) push_back(v);
    return begin() + at;
  }
  iterator erase(const_iterator first, const_iterator last) {
    const auto at = static_cast<size_type>(first - cbegin());
    std::copy(last, cend(), begin() + at);
    size_ -= static_cast<size_type>(last - first);
    return begin() + at;
  }
  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }

  friend bool operator==(const Dims& a, const Dims& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend std::strong_ordering operator<=>(const Dims& a, const Dims& b) {
    return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  size_type checked(size_type i) const {
    if (i >= size_) throw std::out_of_range("Dims::at: index out of range");
    return i;
  }
  void take(Dims& other) {
    heap_ = std::move(other.heap_);
    std::copy(other.inline_, other.inline_ + kInline, inline_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = 0;
    other.capacity_ = kInline;
  }

  value_type inline_[kInline] = {};
  std::unique_ptr<value_type[]> heap_;  // null while the values fit inline_
  size_type size_ = 0;
  size_type capacity_ = kInline;
};

}  // namespace normkit
