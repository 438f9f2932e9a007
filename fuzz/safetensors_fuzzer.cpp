// libFuzzer harness: parse_safetensors on any bytes. A malformed file must be
// refused with normkit::Error; anything else (a crash, a read past the buffer
// that AddressSanitizer sees, undefined behaviour, another exception) is a
// finding. A file that parses must describe its bytes exactly: the tensors'
// sizes add up to the data after the header.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "normkit/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const normkit::io::SafetensorsContents c = normkit::io::parse_safetensors(std::span(data, size), "fuzz");
    std::uint64_t header_length = 0;
    for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | data[i];
    std::uint64_t bytes = 0;
    for (const auto& [name, t] : c.tensors) bytes += static_cast<std::uint64_t>(t.numel()) * normkit::dtype_size(t.dtype());
    if (8 + header_length + bytes != size) std::abort();
  } catch (const normkit::Error&) {
  }
  return 0;
}
