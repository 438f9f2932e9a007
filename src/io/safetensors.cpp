#include "normkit/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "file_checks.hpp"
#include "normkit/error.hpp"

namespace normkit::io {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

// The reference implementation refuses headers over 100 MB; so does normkit.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

// safetensors' names of the dtypes normkit stores.
const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::float32: return "F32";
    case DType::int64: return "I64";
    case DType::bfloat16: return "BF16";
    case DType::float16: return "F16";
    case DType::int8: return "I8";
  }
  return "?";
}

DType dtype_of(const std::string& name, const std::string& key, const std::string& file) {
  for (DType dtype : {DType::float32, DType::int64, DType::bfloat16, DType::float16, DType::int8})
    if (name == safetensors_dtype(dtype)) return dtype;
  detail::throw_error(file, ": tensor '", key, "': dtype ", name,
                      " is not supported (expected F32, BF16, F16, I64 or I8)");
}

std::uint64_t read_u64_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Writes all of `data` to fd, or throws.
void write_all(int fd, const void* data, std::size_t size, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    NORMKIT_CHECK(n > 0, path, ": write failed: ", std::strerror(errno));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Where a save to `path` writes: through symbolic links to the file they
// name (a dangling link names a file to create), and that file's mode when
// it exists. Anything but a regular file is refused: a save replaces the
// file by renaming over it, which would replace a FIFO, a device or a
// directory with a regular file. Its directory must exist.
struct SaveTarget {
  std::filesystem::path file;
  std::filesystem::path dir;   // the file's directory, where the temporary goes
  std::optional<mode_t> mode;  // the existing file's permission bits
};

std::filesystem::path directory_of(const std::filesystem::path& file) {
  return file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
}

SaveTarget save_target(const std::string& path) {
  check_path(path);
  std::filesystem::path file(path);
  for (int links = 0;; ++links) {
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
      NORMKIT_CHECK(errno == ENOENT, path, ": cannot be written: ", std::strerror(errno));
      break;  // a new file
    }
    if (S_ISLNK(st.st_mode)) {
      NORMKIT_CHECK(links < 40, path, ": cannot be written: too many levels of symbolic links");
      const std::filesystem::path to = std::filesystem::read_symlink(file);
      file = to.is_absolute() ? to : file.parent_path() / to;
      continue;
    }
    NORMKIT_CHECK(S_ISREG(st.st_mode), path, ": not a regular file (", file_kind(st.st_mode),
                  "); normkit replaces only regular files");
    return {file, directory_of(file), st.st_mode & 07777};
  }
  const std::filesystem::path dir = directory_of(file);
  NORMKIT_CHECK(std::filesystem::is_directory(dir), path, ": directory ", dir.string(), " does not exist");
  return {file, dir, std::nullopt};
}

// A temporary file beside `file`, created here and now (O_EXCL), with a name
// no other save uses: another thread's or process's save to the same path
// writes its own, and the last rename wins.
int create_temporary(const std::filesystem::path& file, const std::string& path, std::string& name) {
  static std::atomic<std::uint64_t> saves{0};
  for (;;) {
    name = file.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(saves.fetch_add(1));
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) {
      NORMKIT_CHECK(fd >= 0, path, ": cannot be written: ", std::strerror(errno));
      return fd;
    }
  }
}

}  // namespace

void check_writable(const std::string& path) {
  const SaveTarget target = save_target(path);
  NORMKIT_CHECK(::access(target.dir.c_str(), W_OK) == 0, path, ": cannot be written: ", std::strerror(errno));
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::set<std::string> names;
  for (const auto& [key, t] : tensors) {
    NORMKIT_CHECK(key != "__metadata__", path, ": '__metadata__' is reserved, not a tensor name");
    NORMKIT_CHECK(names.insert(key).second, path, ": tensor name '", key, "' appears twice");
    NORMKIT_CHECK(t.defined(), path, ": tensor '", key, "' is undefined");
  }
  // The header: tensors at consecutive offsets, in the given order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous;
  std::uint64_t offset = 0;
  for (const auto& [key, t] : tensors) {
    contiguous.push_back(Tensor::copy_of(t));
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[key] = {{"dtype", safetensors_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error& e) {  // the checkpoint fuzzer found it
    detail::throw_error(path, ": tensor names and metadata must be valid UTF-8 (the header is JSON): ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned, as the reference writes it
  std::uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(text.size()) >> (8 * i));

  const SaveTarget target = save_target(path);
  std::string temporary;
  const int fd = create_temporary(target.file, path, temporary);
  try {
    // An existing file keeps its permissions; a new one gets 0666 less the umask.
    NORMKIT_CHECK(!target.mode || ::fchmod(fd, *target.mode) == 0, path, ": cannot keep its mode: ",
                  std::strerror(errno));
    write_all(fd, length, sizeof length, path);
    write_all(fd, text.data(), text.size(), path);
    for (const Tensor& t : contiguous)
      write_all(fd, t.view().raw(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()), path);
    NORMKIT_CHECK(::fsync(fd) == 0, path, ": fsync failed: ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    std::filesystem::remove(temporary);
    throw;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), target.file.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::filesystem::remove(temporary);
    detail::throw_error(path, ": cannot replace it: ", reason);
  }
  // The rename itself reaches the disk with the directory.
  const int dir_fd = ::open(target.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

SafetensorsContents parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& name) {
  NORMKIT_CHECK(bytes.size() >= 8, name, ": not a safetensors file: ", bytes.size(),
                " bytes, expected at least the 8-byte header length");
  const std::uint64_t header_length = read_u64_le(bytes.data());
  NORMKIT_CHECK(header_length <= kMaxHeaderBytes, name, ": header length ", header_length,
                " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  NORMKIT_CHECK(header_length <= bytes.size() - 8, name, ": header length ", header_length,
                " is more than the file's ", bytes.size() - 8, " bytes after it");
  const std::span<const std::uint8_t> data = bytes.subspan(8 + header_length);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error(name, ": header is not valid JSON: ", e.what());
  }
  NORMKIT_CHECK(header.is_object(), name, ": header: expected a JSON object");

  struct Entry {
    std::string key;
    DType dtype;
    Shape shape;
    std::uint64_t begin, end;
  };
  std::vector<Entry> entries;
  SafetensorsContents contents;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      NORMKIT_CHECK(value.is_object(), name, ": __metadata__: expected an object of strings");
      for (const auto& [k, v] : value.items()) {
        NORMKIT_CHECK(v.is_string(), name, ": __metadata__ '", k, "': expected a string value");
        contents.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    NORMKIT_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") &&
                      value.contains("data_offsets"),
                  name, ": tensor '", key, "': expected an object with dtype, shape and data_offsets");
    NORMKIT_CHECK(value["dtype"].is_string(), name, ": tensor '", key, "': dtype must be a string");
    Entry e{key, dtype_of(value["dtype"].get<std::string>(), key, name), {}, 0, 0};
    const nlohmann::json& shape = value["shape"];
    const nlohmann::json& offsets = value["data_offsets"];
    NORMKIT_CHECK(shape.is_array(), name, ": tensor '", key, "': shape must be an array");
    for (const nlohmann::json& d : shape) {
      NORMKIT_CHECK(d.is_number_unsigned() && d.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX), name,
                    ": tensor '", key, "': shape entries must be non-negative integers");
      e.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
    }
    // The bytes the shape needs, without overflow: each size and each partial
    // product is checked against the data; a zero size makes it 0 whatever
    // the others are (they must still fit in 64 bits together).
    std::uint64_t expected = dtype_size(e.dtype);
    if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) {
      try {
        shape_numel(e.shape);
      } catch (const Error& error) {
        detail::throw_error(name, ": tensor '", key, "': ", error.what());
      }
      expected = 0;
    }
    for (const std::int64_t d : e.shape) {
      if (expected == 0) break;
      const auto size = static_cast<std::uint64_t>(d);
      NORMKIT_CHECK(size <= data.size() && expected <= data.size() / size, name, ": tensor '", key, "': shape ",
                    shape.dump(), " needs more bytes than the file's ", data.size());
      expected *= size;
    }
    NORMKIT_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                      offsets[1].is_number_unsigned(),
                  name, ": tensor '", key, "': data_offsets must be two non-negative integers");
    e.begin = offsets[0].get<std::uint64_t>();
    e.end = offsets[1].get<std::uint64_t>();
    NORMKIT_CHECK(e.begin <= e.end && e.end <= data.size(), name, ": tensor '", key, "': data_offsets [", e.begin,
                  ", ", e.end, ") are outside the ", data.size(), " bytes of data");
    NORMKIT_CHECK(e.end - e.begin == expected, name, ": tensor '", key, "': data_offsets hold ", e.end - e.begin,
                  " bytes, its dtype and shape need ", expected);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  for (const Entry& e : entries) {
    NORMKIT_CHECK(e.begin == covered, name, ": tensor '", e.key, "' starts at byte ", e.begin, " of the data, ",
                  e.begin < covered ? "inside the previous tensor" : "after a hole", " (expected ", covered, ")");
    covered = e.end;
  }
  NORMKIT_CHECK(covered == data.size(), name, ": the tensors cover ", covered, " bytes of data, the file holds ",
                data.size());
  for (const Entry& e : entries) {
    Tensor t(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.view().raw(), data.data() + e.begin, e.end - e.begin);
    contents.tensors.emplace_back(e.key, std::move(t));
  }
  return contents;
}

SafetensorsContents load_safetensors(const std::string& path) {
  require_regular_file(path);
  const std::uintmax_t size = std::filesystem::file_size(path);
  std::ifstream in(path, std::ios::binary);
  NORMKIT_CHECK(in.good(), path, ": cannot be opened");
  // The header length is checked against the file before the file is read.
  std::uint8_t length[8] = {};
  in.read(reinterpret_cast<char*>(length), 8);
  NORMKIT_CHECK(in.gcount() == 8, path, ": not a safetensors file: ", size, " bytes");
  const std::uint64_t header_length = read_u64_le(length);
  NORMKIT_CHECK(header_length <= kMaxHeaderBytes && header_length <= size - 8, path, ": header length ",
                header_length, " does not fit the file's ", size, " bytes");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::memcpy(bytes.data(), length, 8);
  in.read(reinterpret_cast<char*>(bytes.data() + 8), static_cast<std::streamsize>(size - 8));
  NORMKIT_CHECK(static_cast<std::uintmax_t>(in.gcount()) == size - 8, path, ": could not read all ", size, " bytes");
  return parse_safetensors(bytes, path);
}

}  // namespace normkit::io
