// The CLI's options on CLI11, with numbers read strictly: the whole text must
// be the number, in decimal (no leading space, no hex, no inf or nan), parsed
// by std::from_chars so that a value has the same bits as ever. A bad value
// is a CLI::ValidationError "--flag: expected ..., got '...'" (exit code 2).
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace normkit::cli {

inline double parse_number(const std::string& flag, const std::string& text) {
  double v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    throw CLI::ValidationError(flag, "expected a finite number, got '" + text + "'");
  return v;
}

inline std::int64_t parse_integer(const std::string& flag, const std::string& text) {
  std::int64_t v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw CLI::ValidationError(flag, "expected an integer, got '" + text + "'");
  return v;
}

// At least this much, in these units ("images"), for add_integer.
struct AtLeast {
  std::int64_t value;
  std::string unit = "";
};

// --flag N into target (an integer type), the default shown in --help;
// with `minimum`, a smaller N is refused: "--flag: expected >= 1 images, got 0".
template <typename Integer>
CLI::Option* add_integer(CLI::App& app, const std::string& flag, Integer& target, const std::string& help,
                         std::optional<AtLeast> minimum = std::nullopt) {
  return app
      .add_option_function<std::string>(
          flag,
          [&target, flag, minimum](const std::string& text) {
            const std::int64_t n = parse_integer(flag, text);
            if (minimum && n < minimum->value)
              throw CLI::ValidationError(flag, "expected >= " + std::to_string(minimum->value) +
                                                   (minimum->unit.empty() ? "" : " " + minimum->unit) + ", got " + text);
            target = static_cast<Integer>(n);
          },
          help)
      ->type_name("INT")
      ->default_str(std::to_string(target));
}

// --flag X into a double; with `positive`, X <= 0 is refused.
inline CLI::Option* add_number(CLI::App& app, const std::string& flag, double& target, const std::string& help,
                               bool positive = false) {
  return app
      .add_option_function<std::string>(
          flag,
          [&target, flag, positive](const std::string& text) {
            const double x = parse_number(flag, text);
            if (positive && !(x > 0)) throw CLI::ValidationError(flag, "expected a finite number > 0, got " + text);
            target = x;
          },
          help)
      ->type_name("NUM")
      ->default_str(CLI::detail::to_string(target));
}

// --flag A|B|C into a string: one of `choices`.
inline CLI::Option* add_choice(CLI::App& app, const std::string& flag, std::string& target,
                               const std::vector<std::string>& choices, const std::string& help) {
  std::string names;
  for (const std::string& c : choices) names += (names.empty() ? "" : "|") + c;
  return app.add_option(flag, target, help)
      ->check(CLI::Validator(
          [choices, names](std::string& text) -> std::string {
            for (const std::string& c : choices)
              if (text == c) return "";
            return "expected " + names + ", got '" + text + "'";
          },
          ""))
      ->type_name(names)
      ->capture_default_str();
}

// --flag on|off into a bool.
inline CLI::Option* add_switch(CLI::App& app, const std::string& flag, bool& target, const std::string& help) {
  return app
      .add_option_function<std::string>(
          flag,
          [&target, flag](const std::string& text) {
            if (text != "on" && text != "off") throw CLI::ValidationError(flag, "expected on or off, got '" + text + "'");
            target = text == "on";
          },
          help)
      ->type_name("on|off")
      ->default_str(target ? "on" : "off");
}

}  // namespace normkit::cli
