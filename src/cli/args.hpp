// Parsing of option values shared by the subcommands: a bad value calls the
// subcommand's usage_error with a message naming the flag.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace normkit::cli {

using UsageError = void (*)(const std::string& message);

inline double parse_number(const std::string& flag, const std::string& text, UsageError usage_error) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') usage_error(flag + ": expected a number, got '" + text + "'");
  return v;
}

inline std::int64_t parse_integer(const std::string& flag, const std::string& text, UsageError usage_error) {
  const double v = parse_number(flag, text, usage_error);
  if (v != static_cast<double>(static_cast<std::int64_t>(v)))
    usage_error(flag + ": expected an integer, got '" + text + "'");
  return static_cast<std::int64_t>(v);
}

}  // namespace normkit::cli
