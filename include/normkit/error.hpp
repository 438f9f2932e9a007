// The library's own exception type. Every check on user input throws it with a
// message that names the argument and says what was expected; Python sees it
// as ValueError.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace normkit {

class Error : public std::invalid_argument {
 public:
  explicit Error(const std::string& message) : std::invalid_argument(message) {}
};

namespace detail {
template <typename... Parts>
[[noreturn]] void throw_error(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  throw Error(out.str());
}
}  // namespace detail

// NORMKIT_CHECK(cond, "weight: expected shape (", C, "), got ", shape) throws
// normkit::Error with the concatenated message when cond is false.
#define NORMKIT_CHECK(cond, ...)                  \
  do {                                            \
    if (!(cond)) ::normkit::detail::throw_error(__VA_ARGS__); \
  } while (0)

}  // namespace normkit
