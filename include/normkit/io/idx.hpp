// IDX files, the format of MNIST and Fashion-MNIST: two zero bytes, a type
// byte, the number of dimensions, each dimension as a big-endian 32-bit
// integer, then the values in C order. Files may be gzip-compressed (read
// through zlib) or plain. Only unsigned bytes (type 0x08) are read: the
// format of every file of both data sets.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::io {

struct IdxArray {
  Shape shape;                      // dimensions, as the header gives them
  std::vector<std::uint8_t> values;  // shape_numel(shape) bytes, C order
};

// Parses an uncompressed IDX image held in memory. `name` is used in the
// errors, which say what is wrong (bad magic, unsupported type, a header that
// claims more values than the data holds, trailing bytes); the claim is
// checked before anything is allocated.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, const std::string& name);

// Reads an IDX file, gzip-compressed or not. A missing, unreadable, truncated
// or corrupt file is an Error naming the path.
IdxArray read_idx(const std::string& path);

}  // namespace normkit::io
