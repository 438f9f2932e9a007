#include "row_storage.hpp"

#include <cstring>
#include <vector>

#include "core/half_span.hpp"
#include "elementwise.hpp"

namespace normkit::kernels {

void read_rows(const void* data, const RowStorage& at, std::int64_t cols, std::int64_t r0, std::int64_t count,
               std::int64_t c0, std::int64_t n, float* to) {
  for (std::int64_t r = 0; r < count; ++r) {
    const std::int64_t from = at.offset(r0 + r, cols) + c0;
    if (at.dtype == DType::float32)
      std::memcpy(to + r * n, static_cast<const float*>(data) + from, static_cast<std::size_t>(n) * sizeof(float));
    else
      widen_span(static_cast<const std::uint16_t*>(data) + from, to + r * n, n, at.dtype);
  }
}

void write_rows(float* from, void* data, const RowStorage& at, std::int64_t cols, std::int64_t r0,
                std::int64_t count, std::int64_t c0, std::int64_t n, bool stream, bool round_from) {
  for (std::int64_t r = 0; r < count; ++r) {
    float* const row = from + r * n;
    const std::int64_t to = at.offset(r0 + r, cols) + c0;
    if (at.dtype == DType::float32) {
      copy_span(row, static_cast<float*>(data) + to, n, stream);
      continue;
    }
    narrow_span(row, static_cast<std::uint16_t*>(data) + to, n, at.dtype, stream);
    if (round_from) {
      // The stored values, made again in a buffer of the thread's (a
      // streamed row is not in cache to be read back).
      thread_local std::vector<std::uint16_t> stored;
      stored.resize(static_cast<std::size_t>(n));
      narrow_span(row, stored.data(), n, at.dtype, false);
      widen_span(stored.data(), row, n, at.dtype);
    }
  }
}

}  // namespace normkit::kernels
