#include "normkit/io/idx.hpp"

#include <zlib.h>

#include <filesystem>
#include <memory>

#include "file_checks.hpp"
#include "normkit/error.hpp"

namespace normkit::io {
namespace {

// Decompressed files larger than this are refused (the largest file of the
// data sets, the training images, is 47 MB): a bound for corrupt or hostile
// input, checked while reading, before the data is held.
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;
constexpr std::uint8_t kUnsignedByte = 0x08;
constexpr int kMaxDims = 8;

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

IdxArray parse_idx(std::span<const std::uint8_t> bytes, const std::string& name) {
  NORMKIT_CHECK(bytes.size() >= 4, name, ": not an IDX file: ", bytes.size(),
                " bytes, expected at least a 4-byte header");
  NORMKIT_CHECK(bytes[0] == 0 && bytes[1] == 0, name,
                ": not an IDX file: expected the magic bytes 0x00 0x00, got ", int{bytes[0]}, " ",
                int{bytes[1]});
  NORMKIT_CHECK(bytes[2] == kUnsignedByte, name, ": IDX value type ", int{bytes[2]},
                " is not supported, expected 8 (unsigned bytes)");
  const int dims = bytes[3];
  NORMKIT_CHECK(dims >= 1 && dims <= kMaxDims, name, ": expected 1 to ", kMaxDims,
                " dimensions, the header says ", dims);
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
  NORMKIT_CHECK(bytes.size() >= header, name, ": truncated header: ", dims, " dimensions need ", header,
                " bytes, the file has ", bytes.size());
  IdxArray array;
  const std::size_t available = bytes.size() - header;
  // The claim is compared with what the file holds before anything is
  // allocated; the product saturates just above `available`, so it cannot
  // overflow, and the message gives the claim as a real number.
  std::size_t claimed = 1;
  long double claimed_exactly = 1;
  for (int d = 0; d < dims; ++d) {
    const std::uint32_t size = big_endian_u32(bytes.data() + 4 + 4 * d);
    array.shape.push_back(static_cast<std::int64_t>(size));
    claimed_exactly *= size;
    claimed = (size != 0 && claimed > available / size) ? available + 1 : claimed * size;
  }
  NORMKIT_CHECK(claimed == available, name, ": the header claims ", static_cast<double>(claimed_exactly),
                " values (shape ", shape_string(array.shape), "), the file holds ", available);
  // A zero size makes the claim 0 whatever the others are; their product
  // must still fit in 64 bits, as every tensor's must.
  try {
    shape_numel(array.shape);
  } catch (const Error& e) {
    detail::throw_error(name, ": ", e.what());
  }
  array.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

IdxArray read_idx(const std::string& path) {
  require_regular_file(path);
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  NORMKIT_CHECK(file != nullptr, path, ": cannot be opened");
  // gzread reads a gzip stream, or a plain file as it is.
  std::vector<std::uint8_t> bytes;
  std::uint8_t buffer[1 << 16];
  for (;;) {
    const int n = gzread(file.get(), buffer, sizeof buffer);
    int status = Z_OK;
    const char* message = gzerror(file.get(), &status);
    NORMKIT_CHECK(n >= 0 && status == Z_OK, path, ": corrupt or truncated (zlib: ", message, ")");
    if (n == 0) break;
    NORMKIT_CHECK(bytes.size() + static_cast<std::size_t>(n) <= kMaxFileBytes, path,
                  ": larger than ", kMaxFileBytes, " bytes uncompressed, not an IDX file of a data set");
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  return parse_idx(bytes, path);
}

}  // namespace normkit::io
