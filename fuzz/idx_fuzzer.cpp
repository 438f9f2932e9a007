// libFuzzer harness: parse_idx on any bytes. A malformed file must be refused
// with normkit::Error; a file that parses holds exactly the values its header
// claims.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "normkit/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const normkit::io::IdxArray a = normkit::io::parse_idx(std::span(data, size), "fuzz");
    if (static_cast<std::int64_t>(a.values.size()) != normkit::shape_numel(a.shape)) std::abort();
    if (4 + 4 * a.shape.size() + a.values.size() != size) std::abort();
  } catch (const normkit::Error&) {
  }
  return 0;
}
