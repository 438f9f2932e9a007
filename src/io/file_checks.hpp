// Checks on the paths the readers and writers are given: a path holds no NUL
// byte (from Python a str may, and the system would read it cut short), and
// what they read or replace is a regular file, never a FIFO (a read would
// block), a device (/dev/zero never ends) or a directory.
#pragma once

#include <sys/stat.h>

#include <string>

namespace normkit::io {

// An Error naming `what` when path is empty or holds a NUL byte.
void check_path(const std::string& path, const char* what = "path");

// "a directory", "a FIFO", "a device" or "a socket": what a stat mode that is
// not a regular file's holds.
const char* file_kind(mode_t mode);

// For a reader: "PATH: no such file" when nothing is there, "PATH: not a
// regular file (a FIFO)" and so on when something else is.
void require_regular_file(const std::string& path);

}  // namespace normkit::io
