// safetensors files (Hugging Face's format, read by PyTorch's ecosystem):
// an 8-byte little-endian header length, a JSON header that maps each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end)} (offsets into the
// data after the header) plus an optional "__metadata__" object of strings,
// then the tensors' bytes, little-endian, C order, without holes.
//
// normkit reads and writes float32 ("F32") and int64 ("I64") tensors, the
// dtypes of its state dicts (num_batches_tracked is I64, as PyTorch's).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "normkit/tensor.hpp"

namespace normkit::io {

// Named tensors in file order: the same type as nn::StateDict.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  NamedTensors tensors;  // in the order of their data in the file
  Metadata metadata;
};

// Writes tensors (contiguous copies of any view) and metadata to path
// atomically: to a temporary file of its own in the same directory, flushed
// to disk (fsync), then renamed over path, so that path holds either its
// previous contents or the new ones, never a part; of saves to one path at
// once, the last rename wins. A symbolic link is written through (its
// target is replaced, the link stays), an existing file keeps its
// permission bits, and anything but a regular file (a FIFO, a device, a
// directory) is refused. Names must be unique and not "__metadata__".
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

// Whether save_safetensors(path, ...) can write: path names a regular file
// or none, through any links, in an existing directory that this process
// may write. An Error naming path otherwise. For checks before a long run.
void check_writable(const std::string& path);

// Parses a whole file held in memory. Every number of the header is checked
// before it is used: the header length against the file, each tensor's byte
// range against its dtype and shape (without overflow) and against the data,
// and the ranges against each other (no overlap, no hole). A file that fails
// a check is an Error naming `name` and the problem, never a read out of
// bounds.
SafetensorsContents parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& name);

// Reads and parses a file (the header length is checked against the file's
// size before the header is read).
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace normkit::io
