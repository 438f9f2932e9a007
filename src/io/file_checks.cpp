#include "file_checks.hpp"

#include <cerrno>
#include <cstring>

#include "normkit/error.hpp"

namespace normkit::io {

void check_path(const std::string& path, const char* what) {
  NORMKIT_CHECK(!path.empty(), what, ": expected a file name, got an empty string");
  NORMKIT_CHECK(path.find('\0') == std::string::npos, what, ": contains a NUL byte after '", path.c_str(), "'");
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "another kind of file";
}

void require_regular_file(const std::string& path) {
  check_path(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    NORMKIT_CHECK(errno != ENOENT && errno != ENOTDIR, path, ": no such file");
    detail::throw_error(path, ": cannot be read: ", std::strerror(errno));
  }
  NORMKIT_CHECK(S_ISREG(st.st_mode), path, ": not a regular file (", file_kind(st.st_mode), ")");
}

}  // namespace normkit::io
